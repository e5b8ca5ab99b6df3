import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, runClient, startServe, type ServeProcess, databaseText } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Path and body placements with real clients configured only by `standin sandbox env`: curl calls
// a Telegram-shaped bot API, Python requests posts a form with the token in a field.
const REAL = { bot: '7012345678:AAHreal-TELEGRAM_value-9f8e7d', form: 'xoxb-REAL-form-value-1c2d3e4f5a' };
const CLIENTS = join(import.meta.dirname, 'clients');
let upstream: Upstream;
let gw: ServeProcess;
let env: Record<string, string>;
let base: string;

function pythonWith(module: string): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) if (spawnSync(py, ['-c', `import ${module}`]).status === 0) return py;
  return undefined;
}

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startServe(upstream.port, ['api.standin.test', 'other.standin.test']);
  const hosts = `api.standin.test:${upstream.port}`;
  for (const [name, scheme, value] of [['telegram', 'path', REAL.bot], ['slack-legacy', 'body:form:token', REAL.form]] as const) {
    const r = gw.cli(['secret', 'create', name, '--hosts', hosts, '--scheme', scheme, '--value-stdin'], `${value}\n`);
    expect(r.code, r.stderr).toBe(0);
  }
  const sb = gw.cli(['sandbox', 'create', 'agent', '--bind', 'TELEGRAM_BOT_TOKEN=telegram', '--bind', 'SLACK_TOKEN=slack-legacy']);
  expect(sb.code, sb.stderr).toBe(0);
  env = { ...process.env, ...gw.sandboxEnv('agent') } as Record<string, string>;
  base = `https://api.standin.test:${upstream.port}`;
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  if (gw) removeHome(gw.home);
});

describe('path and body schemes with real clients', () => {
  it('curl: a Telegram-shaped bot call gets the real token in the path, the client only its stand-in', async () => {
    const before = upstream.received.length;
    const r = await runClient('curl', ['-sS', '-w', '\n%{http_code}', `${base}/bot${env.TELEGRAM_BOT_TOKEN}/getMe`], env);
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim().endsWith('200')).toBe(true);
    expect(upstream.received[before]?.url).toBe(`/bot${REAL.bot}/getMe`);
    // The echo reflected the real path: the client reads its stand-in there instead.
    expect(r.out).toContain(`/bot${env.TELEGRAM_BOT_TOKEN}/getMe`);
    expect(r.out + r.err).not.toContain(REAL.bot);
  });

  it('python requests: a form-body token call gets the real value in the field', async () => {
    const py = pythonWith('requests');
    expect(py, 'python requests is not installed').toBeDefined();
    if (py === undefined) return;
    const before = upstream.received.length;
    const r = await runClient(py, [join(CLIENTS, 'python_form.py'), `${base}/api/chat.postMessage`, 'token', 'SLACK_TOKEN'], env);
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith('200')).toBe(true);
    const got = new URLSearchParams(upstream.received[before]?.body ?? '');
    expect(got.get('token')).toBe(REAL.form);
    expect(got.get('text')).toBe('hello & goodbye');
    expect(upstream.received[before]?.headers['content-length']).toBe(String(Buffer.byteLength(upstream.received[before]?.body ?? '')));
    expect(r.out).toContain(env.SLACK_TOKEN);
    expect(r.out + r.err).not.toContain(REAL.form);
  });

  it('a path value never reaches the log: the row names the secret and shows the segment redacted', () => {
    const log = gw.cli(['log', '--json', '--sandbox', 'agent']);
    expect(log.code, log.stderr).toBe(0);
    const rows = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { path: string; secrets: string[]; decision: string });
    expect(rows.find((r) => r.secrets.includes('telegram@1'))).toMatchObject({ decision: 'swapped', path: '/[redacted]/getMe' });
    expect(rows.find((r) => r.secrets.includes('slack-legacy@1'))).toMatchObject({ decision: 'swapped', path: '/api/chat.postMessage' });
    expect(log.stdout).not.toContain(env.TELEGRAM_BOT_TOKEN);
  });

  it('the SDK (through the control API) creates secrets of each new scheme by its text form; providers lists telegram', async () => {
    const { createClient } = await import('../../src/index.js');
    const standin = createClient({ env: { STANDIN_HOME: gw.home } });
    for (const scheme of ['path', 'body:form:token', 'body:json:auth.key', 'oauth2', 'sigv4', 'bearer,body:form:api_key']) {
      const name = `sdk-${scheme.replace(/[^a-z]/g, '')}`;
      const created = await standin.secrets.create({ name, value: 'sdk-value-x', scheme, hosts: ['api.example.com'] });
      expect(created.scheme).toBe(scheme);
    }
    // A SigV4 binding made through the SDK gets its stand-in pair in the environment it returns.
    const box = await standin.sandboxes.create({ name: 'sdk-aws', secrets: { AWS_ACCESS_KEY_ID: 'sdk-sigv' } });
    expect(box.env.AWS_ACCESS_KEY_ID).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(box.env.AWS_SECRET_ACCESS_KEY).toMatch(/^[A-Za-z0-9+/]{40}$/);
    const bad = await standin.secrets.create({ name: 'sdk-bad', value: 'v', scheme: 'body:xml:a', hosts: ['api.example.com'] }).catch((e: unknown) => e);
    expect(String(bad)).toMatch(/body:form:FIELD or body:json:PATH/);
    const providers = gw.cli(['providers', '--json']);
    expect(JSON.parse(providers.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'telegram', scheme: 'path', hosts: ['api.telegram.org'], env: 'TELEGRAM_BOT_TOKEN' })]));
  });

  it('the values are in no output of the gateway, its log or its database', async () => {
    const log = gw.cli(['log', '--json']);
    expect(await gw.stop()).toBe(0);
    const db = databaseText(gw.home);
    for (const text of [gw.stdout(), gw.stderr(), log.stdout, db]) for (const v of Object.values(REAL)) expect(text).not.toContain(v);
  });
});
