import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { ROOT } from '../helpers/serve.js';
import { call, controlOf, freePort, jsonBody, type Target } from './http.js';

// The control API of a real `standin serve`: on its default unix socket, and on TCP with API keys.
const REAL = 'sk-real-control-Zq81Xv0pLm';

let upstream: Upstream;
let unixServe: ServeProcess;
let tcpServe: ServeProcess;
let sock: Target;
let tcp: { host: string; port: number };
const keys: Record<string, string> = {};

beforeAll(async () => {
  upstream = await startUpstream();
  const controlPort = await freePort();
  [unixServe, tcpServe] = await Promise.all([
    startServe(upstream.port, ['api.standin.test'], ['--log-level', 'warn']),
    // The control port is let through --allow-dest on purpose: the gateway must still refuse it.
    startServe(upstream.port, ['api.standin.test'], ['--log-level', 'warn', '--control', `127.0.0.1:${controlPort}`, '--allow-dest', `127.0.0.1:${controlPort}`]),
  ]);
  sock = controlOf(unixServe.home);
  tcp = controlOf(tcpServe.home) as { host: string; port: number };
  for (const role of ['admin', 'operator', 'auditor']) {
    const r = tcpServe.cli(['apikey', 'create', `${role}-key`, '--role', role]);
    expect(r.code, r.stderr).toBe(0);
    keys[role] = r.stdout.trim();
  }
});

afterAll(async () => {
  for (const s of [unixServe, tcpServe]) {
    if (s === undefined) continue;
    await s.stop();
    removeHome(s.home);
  }
  await upstream?.close();
});

const auth = (role: string): Record<string, string> => ({ authorization: `Bearer ${keys[role]}` });

describe('control API on the unix socket', () => {
  it('is a 0600 socket in a 0700 directory, and acts as admin', async () => {
    const path = (sock as { socketPath: string }).socketPath;
    expect(path).toBe(join(unixServe.home, 'run', 'control.sock'));
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    const created = await call(sock, 'POST', '/v1/secrets', jsonBody({ name: 'svc', value: REAL, hosts: [`api.standin.test:${upstream.port}`] }));
    expect(created.status).toBe(201);
    expect(created.text).not.toContain(REAL);
    const audit = (await call(sock, 'GET', '/v1/audit')).json() as { actor: string; action: string }[];
    expect(audit).toContainEqual(expect.objectContaining({ actor: 'api:unix', action: 'secret.create' }));
  });

  it('serves health, readiness and an OpenAPI description that lists every route', async () => {
    expect((await call(sock, 'GET', '/healthz')).json()).toEqual({ status: 'ok' });
    expect((await call(sock, 'GET', '/readyz')).status).toBe(200);
    const doc = (await call(sock, 'GET', '/openapi.json')).json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { additionalProperties: boolean; properties: Record<string, { writeOnly?: boolean }> } }> } }>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/secrets', '/v1/sandboxes/{name}/env', '/v1/log', '/v1/audit', '/metrics']));
    const createSchema = doc.paths['/v1/secrets']?.post?.requestBody?.content['application/json']?.schema;
    expect(createSchema?.additionalProperties).toBe(false);
    expect(createSchema?.properties.value?.writeOnly).toBe(true);
  });

  it('refuses bad bodies with problem+json and stable codes, reporting every field at once, never echoing a value', async () => {
    const bad = await call(sock, 'POST', '/v1/secrets', jsonBody({ name: 'bad name!', value: REAL, hosts: ['*.com'], scheme: 'header:authorization', extra: 1 }));
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toBe('application/problem+json');
    const p = bad.json() as { code: string; problems: { field: string }[] };
    expect(p.code).toBe('CTL_INVALID');
    expect(p.problems.map((x) => x.field).sort()).toEqual(['extra', 'hosts', 'name', 'scheme']);
    expect(bad.text).not.toContain(REAL);

    const notJson = await call(sock, 'POST', '/v1/secrets', { body: `{"name":"x","value":"${REAL}"`, headers: { 'content-type': 'application/json' } });
    expect([notJson.status, (notJson.json() as { code: string }).code]).toEqual([400, 'CTL_BAD_JSON']);
    expect(notJson.text).not.toContain(REAL);
    const form = await call(sock, 'POST', '/v1/secrets', { body: `name=x&value=${REAL}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect([form.status, (form.json() as { code: string }).code]).toEqual([415, 'CTL_UNSUPPORTED_MEDIA_TYPE']);
    const huge = await call(sock, 'POST', '/v1/secrets', jsonBody({ name: 'big', value: 'x'.repeat(70 * 1024) }));
    expect([huge.status, (huge.json() as { code: string }).code]).toEqual([413, 'CTL_BODY_TOO_LARGE']);
    const dup = await call(sock, 'POST', '/v1/secrets', jsonBody({ name: 'SVC', value: REAL, hosts: ['api.standin.test'] }));
    expect([dup.status, (dup.json() as { code: string }).code]).toEqual([409, 'CTL_CONFLICT']);
    expect((await call(sock, 'GET', '/v1/secrets/nope')).status).toBe(404);
    expect((await call(sock, 'PATCH', '/v1/secrets/svc')).status).toBe(405);
    expect((await call(sock, 'GET', '/v1/nothing')).status).toBe(404);
    expect((await call(sock, 'GET', '/v1/log?limit=abc')).status).toBe(400);
    expect((await call(sock, 'GET', '/v1/log?bogus=1')).status).toBe(400);
  });

  it('creates, binds, rotates and deletes; only create and env return credentials', async () => {
    const created = await call(sock, 'POST', '/v1/sandboxes', jsonBody({ name: 'box', secrets: { SVC_TOKEN: 'svc' }, proxy: 'standin.internal:8877', caFile: '/etc/standin/ca.pem' }));
    expect(created.status).toBe(201);
    const body = created.json() as { env: Record<string, string>; bindings: unknown[] };
    expect(body.bindings).toEqual([{ env: 'SVC_TOKEN', secret: 'svc' }]);
    expect(body.env.SVC_TOKEN).toMatch(/^standin_/);
    expect(body.env.HTTPS_PROXY).toMatch(/^http:\/\/box:[A-Za-z0-9]+@standin\.internal:8877$/);
    expect(body.env.SSL_CERT_FILE).toBe('/etc/standin/ca.pem');
    const env = (await call(sock, 'GET', '/v1/sandboxes/box/env')).json() as Record<string, string>;
    expect(env.HTTPS_PROXY).toBe(body.env.HTTPS_PROXY?.replace('standin.internal:8877', unixServe.proxy));

    const listed = await call(sock, 'GET', '/v1/sandboxes');
    expect(listed.text).not.toContain(body.env.SVC_TOKEN);
    expect(listed.text).not.toContain('HTTPS_PROXY');

    const rotated = await call(sock, 'POST', '/v1/secrets/svc/rotate', jsonBody({ value: `${REAL}-v2` }));
    expect((rotated.json() as { currentVersion: number }).currentVersion).toBe(2);
    expect(rotated.text).not.toContain(REAL);
    expect((await call(sock, 'POST', '/v1/secrets/svc/rollback')).status).toBe(200);
    expect((await call(sock, 'PUT', '/v1/sandboxes/box/bindings/OTHER', jsonBody({ secret: 'svc' }))).status).toBe(200);
    expect((await call(sock, 'DELETE', '/v1/sandboxes/box/bindings/OTHER')).status).toBe(200);
    expect((await call(sock, 'DELETE', '/v1/sandboxes/box')).status).toBe(204);
    expect((await call(sock, 'GET', '/v1/sandboxes/box')).status).toBe(404);
    const secrets = await call(sock, 'GET', '/v1/secrets');
    expect(secrets.text).not.toContain(REAL);
    const audit = (await call(sock, 'GET', '/v1/audit')).json() as { actor: string; action: string }[];
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['sandbox.create', 'secret.rotate', 'secret.rollback', 'sandbox.bind', 'sandbox.unbind', 'sandbox.delete']));
    expect(audit.every((a) => a.actor === 'api:unix')).toBe(true);
  });
});

describe('control API on the unix socket, per tenant', () => {
  it('acts in the tenant a Standin-Tenant header names, and nowhere else', async () => {
    expect(unixServe.cli(['tenant', 'create', 'team-u']).code).toBe(0);
    const inTeam = { 'standin-tenant': 'Team-U' };
    const created = await call(sock, 'POST', '/v1/secrets', { ...jsonBody({ name: 'svc', value: `${REAL}-team`, hosts: ['api.standin.test'] }), headers: { ...jsonBody({}).headers, ...inTeam } });
    expect(created.status).toBe(201); // the same name as the default tenant's `svc`: another secret
    expect((created.json() as { tenant: string }).tenant).toBe('team-u');
    const listed = (await call(sock, 'GET', '/v1/secrets', { headers: inTeam })).json() as { name: string; tenant: string }[];
    expect(listed.map((x) => [x.tenant, x.name])).toEqual([['team-u', 'svc']]);
    const defaults = (await call(sock, 'GET', '/v1/secrets')).json() as { tenant: string }[];
    expect(defaults.every((x) => x.tenant === 'default')).toBe(true);
    const unknown = await call(sock, 'GET', '/v1/secrets', { headers: { 'standin-tenant': 'nobody' } });
    expect([unknown.status, (unknown.json() as { code: string }).code]).toEqual([404, 'CTL_NOT_FOUND']);
    const bad = await call(sock, 'GET', '/v1/secrets', { headers: { 'standin-tenant': 'Bad Name!' } });
    expect(bad.status).toBe(400);
    const audit = (await call(sock, 'GET', '/v1/audit', { headers: inTeam })).json() as { tenant: string; action: string }[];
    expect(audit.map((e) => [e.tenant, e.action])).toEqual([['team-u', 'secret.create']]);
    expect(created.text + JSON.stringify(listed) + JSON.stringify(audit)).not.toContain(REAL);
  });
});

describe('control API on TCP', () => {
  it('needs an API key on every route but health and OpenAPI', async () => {
    expect((await call(tcp, 'GET', '/healthz')).status).toBe(200);
    expect((await call(tcp, 'GET', '/openapi.json')).status).toBe(200);
    const none = await call(tcp, 'GET', '/v1/secrets');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await call(tcp, 'GET', '/v1/secrets', { headers: { authorization: `Bearer ${keys.admin}x` } })).status).toBe(401);
    expect((await call(tcp, 'GET', '/v1/secrets', { headers: { authorization: 'Bearer sak_0000000000000000_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' } })).status).toBe(401);
    expect((await call(tcp, 'GET', '/metrics')).status).toBe(401);
    expect((await call(tcp, 'GET', '/metrics', { headers: auth('auditor') })).status).toBe(200);
  });

  it('enforces roles per route and audits as api:<key name>', async () => {
    const secret = jsonBody({ name: 'tcp-secret', value: REAL, hosts: ['api.standin.test'] });
    expect((await call(tcp, 'POST', '/v1/secrets', { ...secret, headers: { ...secret.headers, ...auth('operator') } })).status).toBe(403);
    expect((await call(tcp, 'POST', '/v1/secrets', { ...secret, headers: { ...secret.headers, ...auth('auditor') } })).status).toBe(403);
    expect((await call(tcp, 'POST', '/v1/secrets', { ...secret, headers: { ...secret.headers, ...auth('admin') } })).status).toBe(201);
    const sb = jsonBody({ name: 'tcp-box', secrets: { T: 'tcp-secret' } });
    expect((await call(tcp, 'POST', '/v1/sandboxes', { ...sb, headers: { ...sb.headers, ...auth('auditor') } })).status).toBe(403);
    expect((await call(tcp, 'POST', '/v1/sandboxes', { ...sb, headers: { ...sb.headers, ...auth('operator') } })).status).toBe(201);
    const rot = jsonBody({ value: `${REAL}-2` });
    expect((await call(tcp, 'POST', '/v1/secrets/tcp-secret/rotate', { ...rot, headers: { ...rot.headers, ...auth('operator') } })).status).toBe(200);
    expect((await call(tcp, 'DELETE', '/v1/secrets/tcp-secret', { headers: auth('operator') })).status).toBe(403);
    expect((await call(tcp, 'GET', '/v1/log', { headers: auth('auditor') })).status).toBe(200);
    expect((await call(tcp, 'GET', '/v1/sandboxes/tcp-box/env', { headers: auth('auditor') })).status).toBe(403);
    expect((await call(tcp, 'GET', '/v1/audit', { headers: auth('operator') })).status).toBe(403);
    const audit = (await call(tcp, 'GET', '/v1/audit', { headers: auth('auditor') })).json() as { actor: string; action: string }[];
    expect(audit).toContainEqual(expect.objectContaining({ actor: 'api:admin-key', action: 'secret.create' }));
    expect(audit).toContainEqual(expect.objectContaining({ actor: 'api:operator-key', action: 'sandbox.create' }));
    expect(audit).toContainEqual(expect.objectContaining({ actor: 'api:operator-key', action: 'secret.rotate' }));
    expect(audit).toContainEqual(expect.objectContaining({ action: 'apikey.create', target: 'admin-key' }));
  });

  it('stops accepting a revoked key on the next request; keys are listed, never shown again', async () => {
    const created = tcpServe.cli(['apikey', 'create', 'short-lived', '--role', 'auditor']);
    const key = created.stdout.trim();
    expect(key).toMatch(/^sak_[0-9a-f]{16}_[0-9A-Za-z]{40}$/);
    expect((await call(tcp, 'GET', '/v1/log', { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect(tcpServe.cli(['apikey', 'revoke', 'short-lived']).code).toBe(0);
    expect((await call(tcp, 'GET', '/v1/log', { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    const list = tcpServe.cli(['apikey', 'list', '--json']);
    expect(list.stdout).not.toContain(key);
    expect(JSON.parse(list.stdout)).toContainEqual(expect.objectContaining({ name: 'short-lived', role: 'auditor', revokedAt: expect.any(String) }));
    expect(tcpServe.cli(['apikey', 'create', 'x', '--role', 'root']).code).toBe(2);
    // Only hashes are stored.
    expect(readFileSync(join(tcpServe.home, 'standin.db')).includes(Buffer.from(key))).toBe(false);
  });

  it('is refused as a CONNECT target through the proxy', async () => {
    tcpServe.cli(['sandbox', 'create', 'prober']);
    const env = tcpServe.sandboxEnv('prober');
    const cred = /^http:\/\/([^@]+)@/.exec(env.HTTPS_PROXY ?? '')?.[1] ?? '';
    const [host, port] = tcpServe.proxy.split(':');
    const status = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), host, () =>
        s.write(`CONNECT 127.0.0.1:${tcp.port} HTTP/1.1\r\nHost: 127.0.0.1:${tcp.port}\r\nProxy-Authorization: Basic ${Buffer.from(decodeURIComponent(cred)).toString('base64')}\r\n\r\n`),
      );
      let got = '';
      s.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (got.includes('\r\n')) {
          s.destroy();
          resolve(got.split('\r\n')[0] ?? '');
        }
      });
      s.on('error', reject);
    });
    expect(status).toMatch(/^HTTP\/1\.1 403 /);
  });

  it('refuses to share the proxy port', () => {
    const r = tcpServe.cli(['serve', '--listen', '127.0.0.1:18999', '--control', '127.0.0.1:18999']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--control cannot use the proxy's port/);
  });
});
