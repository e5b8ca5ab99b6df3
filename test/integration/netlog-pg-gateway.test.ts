import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgNetLog } from '../../src/netlog/pg/backend.js';
import { migrateNetLogPg } from '../../src/netlog/pg/schema.js';
import { NetLogSpool } from '../../src/netlog/pg/spool.js';
import { createPgNetLogWriter, type PgNetLogWriter } from '../../src/netlog/pg/writer.js';
import { SecretValue } from '../../src/secret-value.js';
import { viaProxy } from '../helpers/client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';

/**
 * A real gateway logging to PostgreSQL: rows of real requests land there with the gateway's id;
 * with the database stopped they are spooled, and once the spool is at its bound new requests
 * are refused (503 GW_LOG_UNAVAILABLE) instead of forwarded unlogged; after a restart every
 * request made — forwarded or refused — has exactly one row, and the value never appears in any.
 */

const REAL = 'sk-REAL-pg-netlog-7c1d0e44b2';
let cluster: PgCluster;
let pool: pg.Pool;
let h: Harness;
let writer: PgNetLogWriter;
let spoolDir: string;
let token: string;

beforeAll(async () => {
  cluster = await startPostgres();
  pool = new pg.Pool({ connectionString: cluster.createDatabase(), max: 4, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => undefined);
  await migrateNetLogPg(pool);
  spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-gw-spool-'));
  // Small enough that a few dozen refused rows fill it.
  writer = createPgNetLogWriter(pool, { gatewayId: 'gw-it', spool: new NetLogSpool(spoolDir, { maxBytes: 8_000 }), intervalMs: 10, retryMs: 100 });
  h = await startHarness({ netlog: writer });
  const scope = [`api.standin.test:${h.upstream.port}`];
  h.store.createSecret({ name: 'openai', scheme: { kind: 'bearer' }, hosts: scope, value: new SecretValue(REAL), actor: 'test' });
  const sb = h.store.createSandbox({ name: 'agent', allowHosts: [], bindings: [{ env: 'OPENAI_API_KEY', secretName: 'openai' }], actor: 'test' });
  token = sb.bindings[0]!.token;
}, 60_000);

afterAll(async () => {
  await h?.close();
  await pool?.end();
  cluster?.destroy();
  fs.rmSync(spoolDir, { recursive: true, force: true });
});

const call = (): ReturnType<typeof viaProxy> =>
  viaProxy(h.proxyUrl('agent'), h.caPem, `https://api.standin.test:${h.upstream.port}/echo`, { headers: { authorization: `Bearer ${token}` } });

describe('a gateway on PostgreSQL', () => {
  it('logs there, spools through an outage, refuses at the spool bound, and loses no row', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call()).status);
    await writer.flush();
    const log = pgNetLog(pool);
    expect((await log.query({ sandbox: 'agent' })).map((r) => [r.gateway, r.decision, r.secrets])).toEqual(Array(5).fill(['gw-it', 'swapped', ['openai@1']]));

    cluster.stop();
    let refused: { status: number; body: string } | undefined;
    try {
      for (let i = 0; i < 200 && refused === undefined; i++) {
        const r = await call();
        statuses.push(r.status);
        if (r.status === 503) refused = r;
        await new Promise((res) => setTimeout(res, 20));
      }
    } finally {
      cluster.start();
    }
    expect(refused?.status).toBe(503);
    const problem = JSON.parse(refused?.body ?? '{}') as { code?: string; request_id?: string };
    expect(problem.code).toBe('GW_LOG_UNAVAILABLE');
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(5);

    // Back: the spool drains, requests are forwarded again.
    const deadline = Date.now() + 20_000;
    while ((writer.spooled().rows > 0 || !writer.accepting()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    expect(writer.accepting()).toBe(true);
    statuses.push((await call()).status);
    expect(statuses.at(-1)).toBe(200);
    await writer.flush();
    const rows = await log.query({ sandbox: 'agent', limit: 10_000 });
    expect(rows.length).toBe(statuses.length);
    expect(new Set(rows.map((r) => r.requestId)).size).toBe(statuses.length);
    expect(rows.filter((r) => r.errorCode === 'GW_LOG_UNAVAILABLE').length).toBe(statuses.filter((s) => s === 503).length);
    expect(rows.find((r) => r.requestId === problem.request_id)?.status).toBe(503);
    expect(rows.every((r) => r.complete && r.gateway === 'gw-it')).toBe(true);
    expect(await log.verify()).toMatchObject({ ok: true, verified: statuses.length });
    // The value is nowhere in the log (the database) nor in the gateway's own logs.
    const dump = (await pool.query('SELECT * FROM network_log')).rows.map((r) => JSON.stringify(r)).join('\n');
    expect(dump).not.toContain(REAL);
    expect(h.logs()).not.toContain(REAL);
  }, 90_000);
});
