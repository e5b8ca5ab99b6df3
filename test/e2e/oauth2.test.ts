import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, runClient, startServe, type ServeProcess, databaseText } from '../helpers/serve.js';
import { CERTS, startUpstream, type Upstream } from '../helpers/upstream.js';

// OAuth2 against a real OAuth2 server package (oauth2-mock-server, over HTTPS): the gateway
// exchanges the client's credentials itself, a Python requests client holds only its stand-in.
// The refresh token rotates on every use and the old one stops working, so a refresh that was not
// stored, or a gateway that crashed and came back without it, would fail.
const CLIENT = { id: 'standin-app', secret: 'REAL-client-secret-7c1e9a' };
const FIRST_REFRESH = 'REAL-refresh-0-5d2f8b';
const CLIENTS = join(import.meta.dirname, 'clients');
let upstream: Upstream;
let auth: OAuth2Server;
let authPort: number;
let gw: ServeProcess;
let env: Record<string, string>;
let serveArgs: string[];
const issued: string[] = [];
const refreshes: string[] = [];
let validRefresh = FIRST_REFRESH;
let counter = 0;

function pythonWith(module: string): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) if (spawnSync(py, ['-c', `import ${module}`]).status === 0) return py;
  return undefined;
}

beforeAll(async () => {
  upstream = await startUpstream();
  auth = new OAuth2Server(join(CERTS, 'upstream-key.pem'), join(CERTS, 'upstream.pem'));
  await auth.issuer.keys.generate('RS256');
  // The server as a strict provider: the client must authenticate, a refresh token works once.
  auth.service.on('beforeResponse', (res: { statusCode: number; body: Record<string, unknown> }, req: { headers: Record<string, string | undefined>; body: Record<string, unknown> }) => {
    if (req.headers.authorization !== `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`) {
      res.statusCode = 401;
      res.body = { error: 'invalid_client' };
      return;
    }
    if (req.body['grant_type'] === 'refresh_token') {
      refreshes.push(String(req.body['refresh_token']));
      if (req.body['refresh_token'] !== validRefresh) {
        res.statusCode = 400;
        res.body = { error: 'invalid_grant' };
        return;
      }
      validRefresh = `REAL-refresh-${++counter}-${Math.random().toString(36).slice(2)}`;
      res.body['refresh_token'] = validRefresh;
      res.body['expires_in'] = 2;
    }
    issued.push(String(res.body['access_token']));
  });
  await auth.start(0, '127.0.0.1');
  authPort = (auth.address() as { port: number }).port;
  serveArgs = ['--resolve', 'auth.standin.test=127.0.0.1', '--allow-dest', `127.0.0.1:${authPort}`];
  gw = await startServe(upstream.port, ['api.standin.test'], serveArgs);
  const hosts = `api.standin.test:${upstream.port}`;
  const tokenUrl = `https://auth.standin.test:${authPort}/token`;
  const cc = JSON.stringify({ clientId: CLIENT.id, clientSecret: CLIENT.secret, tokenUrl, scope: 'crm.read' });
  const rt = JSON.stringify({ clientId: CLIENT.id, clientSecret: CLIENT.secret, tokenUrl, refreshToken: FIRST_REFRESH });
  for (const [name, value] of [['crm', cc], ['mail', rt]] as const) {
    const r = gw.cli(['secret', 'create', name, '--hosts', hosts, '--scheme', 'oauth2', '--value-stdin'], `${value}\n`);
    expect(r.code, r.stderr).toBe(0);
  }
  const sb = gw.cli(['sandbox', 'create', 'agent', '--bind', 'CRM_TOKEN=crm', '--bind', 'MAIL_TOKEN=mail']);
  expect(sb.code, sb.stderr).toBe(0);
  env = { ...process.env, ...gw.sandboxEnv('agent') } as Record<string, string>;
});

afterAll(async () => {
  await gw?.stop();
  await auth?.stop();
  await upstream?.close();
  if (gw) removeHome(gw.home);
});

async function call(envName: string): Promise<{ sent: string; out: string }> {
  const py = pythonWith('requests');
  expect(py, 'python requests is not installed').toBeDefined();
  const before = upstream.received.length;
  const r = await runClient(py!, [join(CLIENTS, 'python_requests.py'), `https://api.standin.test:${upstream.port}/echo`, 'Authorization', 'Bearer ', envName], env);
  expect(r.code, r.err).toBe(0);
  expect(r.out.startsWith('200'), r.out).toBe(true);
  const sent = String(upstream.received[before]?.headers.authorization ?? '');
  // The echo reflected the access token: the client reads its stand-in instead.
  expect(r.out).toContain(`Bearer ${env[envName]!}`);
  return { sent, out: r.out + r.err };
}

const secrets = (): string[] => [CLIENT.secret, FIRST_REFRESH, validRefresh, ...issued];

describe('oauth2 with real clients', () => {
  it('client credentials: python requests calls the API, upstream gets the fetched access token', async () => {
    const first = await call('CRM_TOKEN');
    expect(first.sent).toBe(`Bearer ${issued[0]}`);
    // Cached: a second call is served without another token request.
    const second = await call('CRM_TOKEN');
    expect(second.sent).toBe(first.sent);
    expect(issued).toHaveLength(1);
    for (const s of secrets()) expect(first.out + second.out).not.toContain(s);
  });

  it('a refresh token rotated on every use is stored, and survives a gateway crash', async () => {
    const a = await call('MAIL_TOKEN');
    await new Promise((r) => setTimeout(r, 2_100)); // the 2 s token is past its margin
    const b = await call('MAIL_TOKEN');
    expect(a.sent).not.toBe(b.sent);
    // The gateway dies without a goodbye and starts again on the same home: no cache, the stored token only.
    gw.child.kill('SIGKILL');
    await new Promise((r) => gw.child.once('exit', r));
    gw = await startServe(upstream.port, ['api.standin.test'], serveArgs, gw.home);
    env = { ...process.env, ...gw.sandboxEnv('agent') } as Record<string, string>;
    const c = await call('MAIL_TOKEN');
    expect(c.sent).toBe(`Bearer ${issued.at(-1)}`);
    // Each refresh used the token the one before it was handed: none was lost, none reused.
    expect(refreshes).toHaveLength(3);
    expect(refreshes[0]).toBe(FIRST_REFRESH);
    expect(refreshes.slice(1).every((r, i) => r.startsWith(`REAL-refresh-${i + 1}-`))).toBe(true);
    const audit = gw.cli(['audit', '--json', '--action', 'secret.rotate']);
    expect(audit.code, audit.stderr).toBe(0);
    const events = JSON.parse(audit.stdout) as { actor: string; target: string; detail: { reason?: string } }[];
    expect(events.filter((e) => e.actor === 'gateway' && e.target === 'mail')).toHaveLength(3);
    expect(events).toEqual(
      expect.arrayContaining([expect.objectContaining({ actor: 'gateway', target: 'mail', detail: expect.objectContaining({ reason: 'oauth2 refresh token rotated by the provider' }) })]),
    );
    for (const s of secrets()) expect(a.out + b.out + c.out + audit.stdout).not.toContain(s);
  });

  it('log rows name the secrets; no value in any gateway output, log or the database', async () => {
    const log = gw.cli(['log', '--json', '--sandbox', 'agent']);
    const rows = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { secrets: string[]; decision: string });
    expect(rows.some((r) => r.decision === 'swapped' && r.secrets[0]?.startsWith('crm@'))).toBe(true);
    expect(rows.some((r) => r.decision === 'swapped' && r.secrets[0]?.startsWith('mail@'))).toBe(true);
    const stdout = gw.stdout();
    const stderr = gw.stderr();
    expect(await gw.stop()).toBe(0);
    const db = databaseText(gw.home);
    for (const text of [stdout, stderr, log.stdout, db]) for (const s of secrets()) expect(text).not.toContain(s);
  });
});
