import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, StandinApiError, StandinConnectionError, type StandinClient } from '../../src/index.js';
import { removeHome, ROOT, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { freePort } from '../control/http.js';

// Done means: a sidecar written only against the SDK creates a secret, creates a sandbox, starts a
// process with its environment, and reads that process's requests back from the log.
const REAL = 'sk-ant-real-sdk-9HqWm2Lr0x';

let upstream: Upstream;
let gw: ServeProcess;
let tcpGw: ServeProcess;
let standin: StandinClient;

beforeAll(async () => {
  upstream = await startUpstream();
  const port = await freePort();
  [gw, tcpGw] = await Promise.all([
    startServe(upstream.port, ['api.standin.test'], ['--log-level', 'warn']),
    startServe(upstream.port, ['api.standin.test'], ['--log-level', 'warn', '--control', `127.0.0.1:${port}`]),
  ]);
  standin = createClient({ env: { STANDIN_HOME: gw.home } });
});

afterAll(async () => {
  for (const s of [gw, tcpGw]) {
    if (s === undefined) continue;
    await s.stop();
    removeHome(s.home);
  }
  await upstream?.close();
});

describe('SDK against a running gateway', () => {
  it('secret -> sandbox -> process with its env -> the process\'s requests in the log', async () => {
    const secret = await standin.secrets.create({ name: 'anthropic-prod', value: REAL, provider: 'anthropic', hosts: [`api.standin.test:${upstream.port}`] });
    expect(secret).toMatchObject({ name: 'anthropic-prod', scheme: 'header:x-api-key,bearer', provider: 'anthropic', currentVersion: 1 });
    expect(JSON.stringify(secret)).not.toContain(REAL);
    expect((await standin.providers.list()).map((p) => p.id)).toContain('anthropic');

    const box = await standin.sandboxes.create({ name: 'job-1', secrets: { ANTHROPIC_API_KEY: 'anthropic-prod' } });
    expect(box.env.ANTHROPIC_API_KEY).toMatch(/^sk-ant-/);
    expect(box.env.ANTHROPIC_API_KEY).not.toContain(REAL);
    expect(box.env.HTTPS_PROXY).toContain(`@${gw.proxy}`);

    // The sandboxed process: curl with nothing but the environment the SDK returned.
    const url = `https://api.standin.test:${upstream.port}/echo?from=sdk`;
    const r = await runClient('sh', ['-c', 'curl -sS --fail -H "x-api-key: $ANTHROPIC_API_KEY" "$1"', 'sh', url], { PATH: process.env.PATH, ...box.env });
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain(REAL);
    expect(upstream.received.at(-1)?.headers['x-api-key']).toBe(REAL);

    const rows = await standin.log.waitFor({ sandbox: 'job-1' }, (rs) => rs.some((x) => x.path.startsWith('/echo')));
    const row = rows.find((x) => x.path.startsWith('/echo'));
    expect(row).toMatchObject({ sandbox: 'job-1', method: 'GET', host: 'api.standin.test', status: 200, decision: 'swapped', secrets: ['anthropic-prod@1'] });
    expect(JSON.stringify(rows)).not.toContain(REAL);
    // Polling forward from the last id seen returns nothing new.
    expect(await standin.log.query({ sandbox: 'job-1', afterId: rows.at(-1)?.id })).toEqual([]);
    // Every filter of the API, typed: each one narrows (a wrong value selects nothing).
    expect((await standin.log.query({ sandbox: 'job-1', secret: 'anthropic-prod@1', status: 200, method: 'GET', until: new Date(Date.now() + 60_000) })).map((x) => x.requestId)).toContain(row?.requestId);
    expect(await standin.log.query({ sandbox: 'job-1', secret: 'anthropic-prod@2' })).toEqual([]);
    expect(await standin.log.query({ sandbox: 'job-1', status: 404 })).toEqual([]);
    expect(await standin.log.query({ sandbox: 'job-1', until: new Date(Date.now() - 3_600_000) })).toEqual([]);
    const stats = await standin.log.stats({ sandbox: 'job-1' });
    expect(stats.total.requests).toBeGreaterThanOrEqual(1);
    expect(stats.swaps).toContainEqual({ key: 'anthropic-prod@1', requests: expect.any(Number) as number });
    const explained = await standin.log.explain(row?.requestId ?? '');
    expect(explained.row).toMatchObject({ requestId: row?.requestId, decision: 'swapped' });
    expect(explained.explanation.fix).toEqual([]);
    expect(JSON.stringify([stats, explained])).not.toContain(REAL);
    await expect(standin.log.explain('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ status: 404, code: 'CTL_NOT_FOUND' });
    await expect(standin.log.query({ status: 'x' as unknown as number })).rejects.toMatchObject({ status: 400, code: 'CTL_INVALID' });

    await standin.sandboxes.delete('job-1');
    expect((await standin.sandboxes.list()).map((s) => s.name)).not.toContain('job-1');
    const audit = await standin.audit.query();
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['secret.create', 'sandbox.create', 'sandbox.delete']));
  });

  it('throws typed errors that never carry the value', async () => {
    const err = await standin.secrets.create({ name: 'bad name', value: REAL, hosts: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StandinApiError);
    expect((err as StandinApiError).code).toBe('CTL_INVALID');
    expect((err as StandinApiError).problems.map((p) => p.field).sort()).toEqual(['hosts', 'name']);
    expect(JSON.stringify(err) + String(err) + (err as Error).stack).not.toContain(REAL);
    const missing = await standin.sandboxes.get('nope').catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: 'CTL_NOT_FOUND' });

    const nowhere = createClient({ control: `unix:${join(gw.home, 'no.sock')}` });
    const down = await nowhere.secrets.create({ name: 'x', value: REAL, hosts: ['a.example'] }).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(StandinConnectionError);
    expect(JSON.stringify(down) + String(down) + (down as Error).stack).not.toContain(REAL);
  });

  it('works over TCP with an API key, and sandboxDefaults set how sandboxes reach the gateway', async () => {
    const key = tcpGw.cli(['apikey', 'create', 'sidecar', '--role', 'operator']).stdout.trim();
    const control = JSON.parse(readFileSync(join(tcpGw.home, 'serve.json'), 'utf8')) as { control: string };
    const client = createClient({ control: `http://${control.control}`, apiKey: key, sandboxDefaults: { proxy: 'standin:8877', caFile: '/etc/ssl/standin.pem' } });
    expect(await client.ready()).toBe(true);
    const box = await client.sandboxes.create({ name: 'remote' });
    expect(box.env.HTTPS_PROXY).toMatch(/@standin:8877$/);
    expect(box.env.NODE_EXTRA_CA_CERTS).toBe('/etc/ssl/standin.pem');
    expect((await client.sandboxes.env('remote')).HTTPS_PROXY).toBe(box.env.HTTPS_PROXY);
    expect(await client.ca.get()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(await client.metrics()).toMatch(/standin_requests_total/);
    await expect(client.secrets.create({ name: 'nope', value: REAL, hosts: ['a.example'] })).rejects.toMatchObject({ status: 403, code: 'CTL_FORBIDDEN' });
    const anonymous = createClient({ control: `http://${control.control}` });
    await expect(anonymous.sandboxes.list()).rejects.toMatchObject({ status: 401, code: 'CTL_UNAUTHORIZED' });
  });

  it('acts in a tenant, with per-environment values and break-glass reveal for a permitted key', async () => {
    expect(tcpGw.cli(['tenant', 'create', 'team-b']).code).toBe(0);
    const make = (name: string, role: string, extra: string[] = []): string => tcpGw.cli(['--tenant', 'team-b', 'apikey', 'create', name, '--role', role, ...extra]).stdout.trim();
    const control = `http://${(JSON.parse(readFileSync(join(tcpGw.home, 'serve.json'), 'utf8')) as { control: string }).control}`;
    const admin = createClient({ control, apiKey: make('b-admin', 'admin') });
    const glass = createClient({ control, apiKey: make('b-glass', 'auditor', ['--allow-reveal']) });
    const created = await admin.secrets.create({ name: 'db', value: `${REAL}-prod`, hosts: ['db.example'], environment: 'prod' });
    expect(created).toMatchObject({ tenant: 'team-b', currentVersion: null, environments: [{ name: 'prod', currentVersion: 1, versions: [1] }] });
    const staged = await admin.secrets.rotate('db', `${REAL}-staging`, { environment: 'staging' });
    expect(staged.environments.map((e) => [e.name, e.currentVersion])).toEqual([['prod', 1], ['staging', 2]]);
    const box = await admin.sandboxes.create({ name: 'etl', environment: 'staging', secrets: { DB_TOKEN: 'db' }, proxy: 'standin:8877' });
    expect(box).toMatchObject({ tenant: 'team-b', environment: 'staging' });
    await expect(admin.sandboxes.create({ name: 'etl-dev', environment: 'dev', secrets: { DB_TOKEN: 'db' }, proxy: 'standin:8877' }))
      .rejects.toMatchObject({ status: 400, code: 'CTL_INVALID' });
    // The default tenant's sandboxes and secrets are not there for this key.
    expect((await admin.sandboxes.list()).map((x) => x.name)).toEqual(['etl']);
    await expect(admin.secrets.get('anthropic-prod')).rejects.toMatchObject({ status: 404 });
    await expect(admin.secrets.reveal('db', { reason: 'incident 12: vendor says key invalid' })).rejects.toMatchObject({ status: 403, code: 'CTL_FORBIDDEN' });
    const revealed = await glass.secrets.reveal('db', { reason: 'incident 12: vendor says key invalid', environment: 'staging' });
    expect(revealed).toEqual({ name: 'db', environment: 'staging', version: 2, value: `${REAL}-staging` });
    const audit = await glass.audit.query();
    expect(audit.filter((e) => e.action === 'secret.reveal').map((e) => [e.actor, e.detail.allowed])).toEqual([['api:b-admin', false], ['api:b-glass', true]]);
    expect(audit.every((e) => e.tenant === 'team-b')).toBe(true);
  });

  it('examples/sidecar.mjs runs against the gateway using the built package', async () => {
    const r = await runClient(process.execPath, [join(ROOT, 'examples', 'sidecar.mjs')], {
      PATH: process.env.PATH,
      STANDIN_HOME: gw.home,
      ANTHROPIC_API_KEY: REAL,
      EXAMPLE_URL: `https://api.standin.test:${upstream.port}/echo`,
      EXAMPLE_HOSTS: `api.standin.test:${upstream.port}`,
    });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^process exited 0$/m);
    expect(r.out).toMatch(/GET api\.standin\.test:\d+\/echo -> 200 swapped anthropic-[0-9a-f]+@1/);
    expect(r.out + r.err).not.toContain(REAL);
    expect(upstream.received.at(-1)?.headers['x-api-key']).toBe(REAL);
  });
});
