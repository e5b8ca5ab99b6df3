import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/control/metrics.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { createLogger } from '../../src/logging/logger.js';
import { createClient, StandinApiError } from '../../src/sdk/client.js';
import { sqliteNetLog } from '../../src/netlog/sqlite-backend.js';
import { openDatabase } from '../../src/store/database.js';
import type { AsyncStore } from '../../src/store/store-api.js';
import { backends } from '../helpers/backends.js';

// The control API and the SDK on both backends: the same calls, the same answers, the same
// refusals, whichever database holds the store.
const PLANTED = 'sk-PLANTED-control-backends-91c2';

describe.each(backends())('control API and SDK on $name', (backend) => {
  let server: ControlServer;
  let store: AsyncStore;
  let url: string;
  let adminKey: string;
  let auditorKey: string;
  const logs: string[] = [];

  beforeAll(async () => {
    await backend.setup();
    const fresh = await backend.fresh();
    store = fresh.store;
    adminKey = (await store.apiKeys.create('admin', 'admin')).key;
    auditorKey = (await store.apiKeys.create('auditor', 'auditor')).key;
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    });
    const db = openDatabase(join(fresh.home, 'netlog.db'));
    server = await startControlServer(
      {
        store,
        db,
        netlog: sqliteNetLog(db),
        apiKeys: store.apiKeys,
        metrics: new Metrics(),
        logger: createLogger({ level: 'debug', destination: sink }),
        proxyAddress: () => '127.0.0.1:18877',
        caBundlePath: '/etc/standin/bundle.pem',
        caCertPem: '',
        caBundlePem: () => '',
        ready: () => true,
      },
      { address: { kind: 'tcp', host: '127.0.0.1', port: 0 }, version: '0.1.0' },
    );
    const a = server.address as { host: string; port: number };
    url = `http://${a.host}:${a.port}`;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await store?.close();
    backend.teardown();
  });

  it('creates, binds, rotates, rolls back, unbinds and deletes through the SDK', async () => {
    const sdk = createClient({ control: url, apiKey: adminKey });
    expect(await sdk.ready()).toBe(true);
    const s = await sdk.secrets.create({ name: 'svc', value: PLANTED, hosts: ['api.example.com'] });
    expect(s).toMatchObject({ name: 'svc', currentVersion: 1 });
    const created = await sdk.sandboxes.create({ name: 'box', secrets: { SVC: 'svc' }, allowHosts: ['api.example.com'] });
    expect(created.env['SVC']).toMatch(/standin_/);
    expect(created.env['HTTPS_PROXY']).toMatch(/^http:\/\/box:[0-9A-Za-z]{32}@127\.0\.0\.1:18877$/);
    expect((await sdk.secrets.rotate('SVC', `${PLANTED}-2`)).currentVersion).toBe(2);
    expect((await sdk.secrets.rollback('svc')).currentVersion).toBe(1);
    expect((await sdk.sandboxes.bind('box', 'OTHER', 'svc')).bindings.map((b) => b.env)).toEqual(['OTHER', 'SVC']);
    expect((await sdk.sandboxes.unbind('box', 'OTHER')).bindings.map((b) => b.env)).toEqual(['SVC']);
    const env = await sdk.sandboxes.env('box');
    expect(env['SVC']).toBe(created.env['SVC']);
    const conflict = await sdk.secrets.create({ name: 'SVC', value: 'x', hosts: ['api.example.com'] }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(StandinApiError);
    expect((conflict as StandinApiError).code).toBe('CTL_CONFLICT');
    await sdk.sandboxes.delete('box');
    await sdk.secrets.delete('svc');
    expect(await sdk.secrets.list()).toEqual([]);
  });

  it('enforces roles and revocation, audits as the key', async () => {
    const auditor = createClient({ control: url, apiKey: auditorKey });
    const refused = await auditor.secrets.list().catch((e: unknown) => e);
    expect((refused as StandinApiError).code).toBe('CTL_FORBIDDEN');
    const events = await auditor.audit.query({});
    expect(events.map((e) => e.actor)).toContain('api:admin');
    await store.apiKeys.revoke('auditor');
    const revoked = await auditor.audit.query({}).catch((e: unknown) => e);
    expect((revoked as StandinApiError).code).toBe('CTL_UNAUTHORIZED');
  });

  it('never returned or logged a value', () => {
    for (const l of logs) expect(l).not.toContain(PLANTED);
  });
});
