import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const REAL = 'sk-live-REALVALUE-e2e-9f8e7d6c5b4a39281706';
const CLIENTS = join(import.meta.dirname, 'clients');
let upstream: Upstream;
let gw: ServeProcess;
let env: Record<string, string>;
let url: string;

function pythonWith(module: string): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-c', `import ${module}`]).status === 0) return py;
  }
  return undefined;
}

function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return runClient(cmd, args, { ...process.env, ...env });
}

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startServe(upstream.port, ['api.standin.test', 'other.standin.test']);
  const created = gw.cli(['secret', 'create', 'openai', '--hosts', `api.standin.test:${upstream.port}`, '--scheme', 'bearer', '--value-stdin'], `${REAL}\n`);
  expect(created.code, created.stderr).toBe(0);
  const sb = gw.cli(['sandbox', 'create', 'agent', '--bind', 'OPENAI_API_KEY=openai']);
  expect(sb.code, sb.stderr).toBe(0);
  env = gw.sandboxEnv('agent');
  url = `https://api.standin.test:${upstream.port}/echo`;
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  if (gw) removeHome(gw.home);
});

const clients: { name: string; cmd: () => [string, string[]] | undefined }[] = [
  { name: 'curl', cmd: () => ['curl', ['-sS', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${env.OPENAI_API_KEY}`, url]] },
  { name: 'python urllib', cmd: () => ['python3', [join(CLIENTS, 'python_urllib.py'), url, 'Authorization', 'Bearer ', 'OPENAI_API_KEY']] },
  {
    name: 'python requests',
    cmd: () => {
      const py = pythonWith('requests');
      return py ? [py, [join(CLIENTS, 'python_requests.py'), url, 'Authorization', 'Bearer ', 'OPENAI_API_KEY']] : undefined;
    },
  },
  { name: 'node got + proxy agent', cmd: () => [process.execPath, [join(CLIENTS, 'node_got.mjs'), url, 'Authorization', 'Bearer ', 'OPENAI_API_KEY']] },
  { name: 'node fetch + undici ProxyAgent', cmd: () => [process.execPath, [join(CLIENTS, 'node_fetch.mjs'), url, 'Authorization', 'Bearer ', 'OPENAI_API_KEY']] },
];

describe('real clients configured only by `standin sandbox env`', () => {
  it('the env names a CA bundle that holds the standin CA', () => {
    const bundle = readFileSync(env.SSL_CERT_FILE!, 'utf8');
    expect(bundle).toContain(gw.cli(['ca', 'export']).stdout.trim());
    for (const k of ['NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO']) expect(env[k]).toBe(env.SSL_CERT_FILE);
    expect(env.HTTPS_PROXY).toMatch(/^http:\/\/agent:[^@]+@127\.0\.0\.1:\d+$/);
  });

  for (const client of clients) {
    it(`${client.name}: upstream gets the real value, the client only its token, the log has the row`, async () => {
      const cmd = client.cmd();
      expect(cmd, `${client.name} is not installed`).toBeDefined();
      if (!cmd) return;
      const before = upstream.received.length;
      const r = await run(cmd[0], cmd[1]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('200');
      expect(r.out).toContain(env.OPENAI_API_KEY);
      expect(r.out + r.err).not.toContain(REAL);
      expect(upstream.received.length).toBe(before + 1);
      expect(upstream.received[before]?.headers.authorization).toBe(`Bearer ${REAL}`);
      expect(upstream.received[before]?.servername).toBe('api.standin.test');
    });
  }

  it('every request is in the network log; the value is in no log and no output', async () => {
    const log = gw.cli(['log', '--json', '--sandbox', 'agent']);
    expect(log.code, log.stderr).toBe(0);
    const rows = log.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { decision: string; secrets: string[] });
    const swapped = rows.filter((r) => r.decision === 'swapped');
    expect(swapped.length).toBeGreaterThanOrEqual(clients.length);
    for (const r of swapped) expect(r.secrets).toEqual(['openai@1']);
    const code = await gw.stop();
    expect(code).toBe(0);
    const dbBytes = ['standin.db', 'standin.db-wal'].map((f) => {
      try {
        return readFileSync(join(gw.home, f)).toString('latin1');
      } catch {
        return '';
      }
    }).join('');
    for (const text of [gw.stdout(), gw.stderr(), log.stdout, dbBytes]) expect(text).not.toContain(REAL);
  });
});
