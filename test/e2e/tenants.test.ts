import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, jsonBody } from '../control/http.js';
import { removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Tenants, environments and break-glass reveal (issue #5) on a real `standin serve`: curl through
// the proxy for sandboxes of two tenants with the same names, the CLI in each tenant's view, and
// the control API on TCP with keys of one tenant.
const PLANTED = {
  defaultOpenai: 'sk-PLANTED-default-tenant-3b91c',
  acmeOpenai: 'sk-PLANTED-acme-tenant-77d0e',
  prod: 'PLANTED-db-prod-5a2f',
  staging: 'PLANTED-db-staging-c8e4',
};

let upstream: Upstream;
let serve: ServeProcess;
let control: { host: string; port: number };
let host: string;
const keys: Record<string, string> = {};

function ok(args: string[], input?: string): string {
  const r = serve.cli(args, input);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

function envOf(tenant: string, sandbox: string): Record<string, string> {
  return JSON.parse(ok(['--tenant', tenant, 'sandbox', 'env', sandbox, '--format', 'json'])) as Record<string, string>;
}

/** curl with a sandbox's environment, as `standin run` would start it; returns what the upstream got. */
async function curlAs(env: Record<string, string>, token: string | undefined, path = '/echo'): Promise<{ status: number; body: string; auth: string | undefined }> {
  const before = upstream.received.length;
  const args = ['-sS', '-w', '\n%{http_code}', ...(token === undefined ? [] : ['-H', `Authorization: Bearer ${token}`]), `https://${host}${path}`];
  const r = await runClient('curl', args, { PATH: process.env.PATH, ...env });
  const lines = r.out.trimEnd().split('\n');
  const status = Number(lines.pop());
  const got = upstream.received.slice(before).at(-1);
  const auth = upstream.received.length > before ? (got?.headers.authorization as string | undefined) : undefined;
  return { status, body: lines.join('\n'), auth };
}

beforeAll(async () => {
  upstream = await startUpstream();
  host = `api.standin.test:${upstream.port}`;
  const port = await freePort();
  serve = await startServe(upstream.port, ['api.standin.test'], ['--control', `127.0.0.1:${port}`]);
  control = { host: '127.0.0.1', port };
  ok(['tenant', 'create', 'acme']);
  ok(['secret', 'create', 'openai', '--hosts', host, '--value-stdin'], PLANTED.defaultOpenai);
  ok(['secret', 'create', 'only-default', '--hosts', host, '--value-stdin'], 'PLANTED-only-default-1');
  ok(['sandbox', 'create', 'agent', '--bind', 'OPENAI_API_KEY=openai']);
  ok(['--tenant', 'acme', 'secret', 'create', 'openai', '--hosts', host, '--value-stdin'], PLANTED.acmeOpenai);
  ok(['--tenant', 'acme', 'sandbox', 'create', 'agent', '--bind', 'OPENAI_API_KEY=openai']);
  ok(['--tenant', 'acme', 'secret', 'create', 'db', '--hosts', host, '--environment', 'prod', '--value-stdin'], PLANTED.prod);
  ok(['--tenant', 'acme', 'secret', 'rotate', 'db', '--environment', 'staging', '--value-stdin'], PLANTED.staging);
  ok(['--tenant', 'acme', 'sandbox', 'create', 'prd', '--environment', 'prod', '--bind', 'DB_TOKEN=db']);
  ok(['--tenant', 'acme', 'sandbox', 'create', 'stg', '--environment', 'staging', '--bind', 'DB_TOKEN=db']);
  for (const [name, role, extra] of [['acme-admin', 'admin', []], ['acme-auditor', 'auditor', []], ['acme-glass', 'auditor', ['--allow-reveal']]] as const) {
    keys[name] = ok(['--tenant', 'acme', 'apikey', 'create', name, '--role', role, ...extra]).trim();
  }
});

afterAll(async () => {
  await serve?.stop();
  if (serve !== undefined) removeHome(serve.home);
  await upstream?.close();
});

describe('tenants through the proxy', () => {
  it('sends each tenant\'s own value for sandboxes and secrets of the same names', async () => {
    const d = envOf('default', 'agent');
    const a = envOf('acme', 'agent');
    expect(d.HTTPS_PROXY).toMatch(/^http:\/\/agent:/);
    expect(a.HTTPS_PROXY).toMatch(/^http:\/\/agent:/);
    expect(a.HTTPS_PROXY).not.toBe(d.HTTPS_PROXY);
    const rd = await curlAs(d, d.OPENAI_API_KEY);
    const ra = await curlAs(a, a.OPENAI_API_KEY);
    expect([rd.status, rd.auth]).toEqual([200, `Bearer ${PLANTED.defaultOpenai}`]);
    expect([ra.status, ra.auth]).toEqual([200, `Bearer ${PLANTED.acmeOpenai}`]);
    // The echo reflects the value; the sandbox gets its token back instead.
    expect(rd.body).toContain(d.OPENAI_API_KEY);
    expect(rd.body + ra.body).not.toContain('PLANTED');
  });

  it('never honours one tenant\'s token on another tenant\'s connection', async () => {
    const d = envOf('default', 'agent');
    const a = envOf('acme', 'agent');
    const cross = await curlAs(d, a.OPENAI_API_KEY);
    expect([cross.status, cross.auth]).toEqual([403, undefined]);
    expect(cross.body).toContain('GW_TOKEN_UNKNOWN');
  });

  it('refuses to bind another tenant\'s secret, from the CLI', () => {
    const r = serve.cli(['--tenant', 'acme', 'sandbox', 'bind', 'agent', 'X=only-default']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("standin: no secret named 'only-default'\n");
    const t = serve.cli(['--tenant', 'nobody', 'secret', 'list']);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/^standin: no tenant named 'nobody'/);
  });
});

describe('environments through the proxy', () => {
  it('gives each sandbox its environment\'s value, and logs the version it used', async () => {
    const prd = envOf('acme', 'prd');
    const stg = envOf('acme', 'stg');
    expect((await curlAs(prd, prd.DB_TOKEN, '/echo/prd')).auth).toBe(`Bearer ${PLANTED.prod}`);
    expect((await curlAs(stg, stg.DB_TOKEN, '/echo/stg')).auth).toBe(`Bearer ${PLANTED.staging}`);
    // A new prod value is picked up by prod's next request; staging keeps its own.
    ok(['--tenant', 'acme', 'secret', 'rotate', 'db', '--environment', 'prod', '--value-stdin'], `${PLANTED.prod}-v3`);
    expect((await curlAs(prd, prd.DB_TOKEN, '/echo/prd')).auth).toBe(`Bearer ${PLANTED.prod}-v3`);
    expect((await curlAs(stg, stg.DB_TOKEN, '/echo/stg')).auth).toBe(`Bearer ${PLANTED.staging}`);
    const dev = serve.cli(['--tenant', 'acme', 'sandbox', 'create', 'dev', '--environment', 'dev', '--bind', 'DB_TOKEN=db']);
    expect(dev.code).toBe(2);
    expect(dev.stderr).toMatch(/^standin: secret 'db' has no value for environment dev \(of sandbox 'dev'\)[^\n]*\n$/);
    const show = JSON.parse(ok(['--tenant', 'acme', 'secret', 'show', 'db', '--json'])) as { environments: unknown[] };
    expect(show.environments).toEqual([
      { name: 'prod', currentVersion: 3, versions: [1, 3] },
      { name: 'staging', currentVersion: 2, versions: [2] },
    ]);
    await new Promise((r) => setTimeout(r, 300)); // the log is written in batches
    const rows = ok(['--tenant', 'acme', 'log', '--json', '--host', 'api.standin.test']).trim().split('\n').map((l) => JSON.parse(l) as { sandbox: string; path: string; secrets: string[] });
    expect(rows.filter((r) => r.path === '/echo/prd').map((r) => r.secrets)).toEqual([['db@1'], ['db@3']]);
    expect(rows.filter((r) => r.path === '/echo/stg').map((r) => r.secrets)).toEqual([['db@2'], ['db@2']]);
  });
});

describe('log and audit per tenant', () => {
  it('shows each tenant its own rows; unauthenticated refusals go to default; --all-tenants shows all', async () => {
    const bad = await runClient('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-x', `http://agent:wrong@${serve.proxy}`, `https://${host}/`], { PATH: process.env.PATH });
    expect(bad.err + bad.out).toMatch(/407/);
    await new Promise((r) => setTimeout(r, 300));
    const lines = (args: string[]): { tenant: string | null; sandbox: string | null; status: number }[] =>
      ok(['log', '--json', '--limit', '1000', ...args]).trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { tenant: string | null; sandbox: string | null; status: number });
    const acme = lines(['--tenant', 'acme']);
    const def = lines([]);
    const all = lines(['--all-tenants']);
    expect(acme.length).toBeGreaterThan(0);
    expect(acme.every((r) => r.tenant === 'acme')).toBe(true);
    expect(def.every((r) => r.tenant === 'default' || r.tenant === null)).toBe(true);
    expect(def.some((r) => r.tenant === null && r.status === 407)).toBe(true);
    expect(all.length).toBe(acme.length + def.length);
    const audit = JSON.parse(ok(['--tenant', 'acme', 'audit', '--json'])) as { tenant: string; action: string }[];
    expect(audit.every((e) => e.tenant === 'acme')).toBe(true);
    expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['secret.create', 'secret.rotate', 'sandbox.create', 'apikey.create']));
    expect(JSON.parse(ok(['audit', '--json'])).map((e: { action: string }) => e.action)).toContain('tenant.create');
  });
});

describe('the control API per tenant', () => {
  const as = (key: string): Record<string, string> => ({ authorization: `Bearer ${keys[key]}` });

  it('lets a key see and change only its tenant', async () => {
    const secrets = (await call(control, 'GET', '/v1/secrets', { headers: as('acme-admin') })).json() as { name: string; tenant: string }[];
    expect(secrets.map((s) => [s.tenant, s.name])).toEqual([['acme', 'db'], ['acme', 'openai']]);
    const sandboxes = (await call(control, 'GET', '/v1/sandboxes', { headers: as('acme-admin') })).json() as { name: string; environment: string }[];
    expect(sandboxes.map((s) => [s.name, s.environment])).toEqual([['agent', 'default'], ['prd', 'prod'], ['stg', 'staging']]);
    const cross = await call(control, 'POST', '/v1/sandboxes', { ...jsonBody({ name: 'x', secrets: { K: 'only-default' } }), headers: { ...jsonBody({}).headers, ...as('acme-admin') } });
    expect([cross.status, (cross.json() as { code: string }).code]).toEqual([400, 'CTL_INVALID']);
    expect((await call(control, 'GET', '/v1/secrets/only-default', { headers: as('acme-admin') })).status).toBe(404);
    const other = await call(control, 'GET', '/v1/secrets', { headers: { ...as('acme-admin'), 'standin-tenant': 'default' } });
    expect(other.status).toBe(403);
    expect((await call(control, 'GET', '/metrics', { headers: as('acme-auditor') })).status).toBe(403);
  });

  it('gives an auditor of a tenant only that tenant\'s log and audit rows', async () => {
    const rows = (await call(control, 'GET', '/v1/log?limit=1000', { headers: as('acme-auditor') })).json() as { tenant: string | null }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.tenant === 'acme')).toBe(true);
    const audit = (await call(control, 'GET', '/v1/audit?limit=1000', { headers: as('acme-auditor') })).json() as { tenant: string; target: string }[];
    expect(audit.every((e) => e.tenant === 'acme')).toBe(true);
    expect(audit.map((e) => e.target)).not.toContain('only-default');
    expect((await call(control, 'GET', '/v1/secrets', { headers: as('acme-auditor') })).status).toBe(403);
  });
});

describe('break-glass reveal', () => {
  const reveal = (key: string, name: string, body: unknown): ReturnType<typeof call> =>
    call(control, 'POST', `/v1/secrets/${name}/reveal`, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${keys[key]}` } });

  it('is refused without the permission, even for an admin, and the attempt is audited', async () => {
    const r = await reveal('acme-admin', 'db', { reason: 'incident 7: compare with vendor console', environment: 'prod' });
    expect([r.status, (r.json() as { code: string }).code]).toEqual([403, 'CTL_FORBIDDEN']);
    expect(r.text).not.toContain(PLANTED.prod);
  });

  it('needs a reason, returns the environment\'s current value to a permitted key, and audits it', async () => {
    const noReason = await reveal('acme-glass', 'db', { environment: 'prod' });
    expect(noReason.status).toBe(400);
    const short = await reveal('acme-glass', 'db', { reason: 'because' });
    expect(short.status).toBe(400);
    const r = await reveal('acme-glass', 'db', { reason: 'incident 7: compare with vendor console', environment: 'staging' });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.json()).toEqual({ name: 'db', environment: 'staging', version: 2, value: PLANTED.staging });
    expect((await reveal('acme-glass', 'only-default', { reason: 'probing the other tenant' })).status).toBe(404);
    const audit = (await call(control, 'GET', '/v1/audit?limit=1000', { headers: { authorization: `Bearer ${keys['acme-auditor']}` } })).json() as { actor: string; action: string; target: string; detail: Record<string, unknown> }[];
    const reveals = audit.filter((e) => e.action === 'secret.reveal').map((e) => [e.actor, e.target, e.detail.allowed, e.detail.environment, e.detail.reason]);
    expect(reveals).toEqual([
      ['api:acme-admin', 'db', false, 'prod', 'incident 7: compare with vendor console'],
      ['api:acme-glass', 'db', true, 'staging', 'incident 7: compare with vendor console'],
      ['api:acme-glass', 'only-default', false, 'default', 'probing the other tenant'],
    ]);
    expect(JSON.stringify(audit)).not.toContain('PLANTED');
  });
});

describe('planted values', () => {
  it('appear nowhere: not in the gateway\'s output, the network log or the audit trail', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const db = new Database(join(serve.home, 'standin.db'), { readonly: true });
    const dump = JSON.stringify([db.prepare('SELECT * FROM network_log').all(), db.prepare('SELECT * FROM audit').all()]);
    db.close();
    const texts = [serve.stdout(), serve.stderr(), dump, readFileSync(join(serve.home, 'standin.db')).toString('latin1')];
    for (const t of texts) for (const v of Object.values(PLANTED)) expect(t).not.toContain(v);
  });
});
