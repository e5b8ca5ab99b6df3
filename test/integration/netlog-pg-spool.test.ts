import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgNetLog } from '../../src/netlog/pg/backend.js';
import { migrateNetLogPg } from '../../src/netlog/pg/schema.js';
import { NetLogSpool } from '../../src/netlog/pg/spool.js';
import { createPgNetLogWriter } from '../../src/netlog/pg/writer.js';
import type { NetLogRow } from '../../src/netlog/types.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';

/**
 * PostgreSQL going away under a writing gateway: rows go to the on-disk spool and are written back
 * when the database returns — counted exactly: none lost, none twice — also across a gateway
 * restart with a non-empty spool, and when a spool file is replayed after it was already written.
 */

let cluster: PgCluster;
let dir: string;
const pools: pg.Pool[] = [];
beforeAll(async () => {
  cluster = await startPostgres();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-spool-'));
}, 60_000);
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  cluster?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function freshPool(): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: cluster.createDatabase(), max: 4, connectionTimeoutMillis: 2_000 });
  // Clients the server drops while idle report here; the writer sees its own failures.
  pool.on('error', () => undefined);
  pools.push(pool);
  await migrateNetLogPg(pool);
  return pool;
}

let n = 0;
function row(extra: Partial<NetLogRow> = {}): NetLogRow {
  n++;
  return {
    requestId: `00000000-0000-4000-9000-${String(n).padStart(12, '0')}`,
    at: Date.now(),
    sandbox: 'agent',
    tenant: 'default',
    method: 'GET',
    scheme: 'https',
    host: 'api.example.com',
    port: 443,
    path: '/v1/models',
    status: 200,
    decision: 'swapped',
    secrets: ['k@1'],
    bytesIn: 10,
    bytesOut: 1,
    durationMs: 5,
    upstreamIp: '93.184.216.34',
    errorCode: null,
    ...extra,
  };
}

const count = async (pool: pg.Pool): Promise<{ rows: number; ids: number; complete: number }> =>
  (await pool.query<{ rows: number; ids: number; complete: number }>(
    'SELECT count(*)::int AS rows, count(DISTINCT request_id)::int AS ids, count(*) FILTER (WHERE complete)::int AS complete FROM network_log',
  )).rows[0]!;

const until = async (what: () => boolean | Promise<boolean>, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('the spool', () => {
  it('keeps every row through a database stop and start under load: 6000 rows, each once', async () => {
    const pool = await freshPool();
    const spool = new NetLogSpool(path.join(dir, 'a'));
    const errors: unknown[] = [];
    const w = createPgNetLogWriter(pool, { gatewayId: 'gw-a', spool, intervalMs: 10, retryMs: 100, batchSize: 250, onError: (e) => errors.push(e) });
    const produce = async (k: number): Promise<void> => {
      for (let i = 0; i < k; i++) {
        // Half the exchanges are long: their forwarded row is written first, the final one later.
        if (i % 2 === 0) {
          const r = row({ complete: false });
          w.record(r);
          if (i % 20 === 0) await new Promise((res) => setTimeout(res, 1));
          w.record({ ...r, complete: true, bytesIn: 99 });
        } else w.record(row());
        if (i % 100 === 0) await new Promise((res) => setTimeout(res, 2));
      }
    };
    await produce(2000);
    cluster.stop();
    await produce(2000);
    await until(() => spool.stats().rows > 0 && w.pending() === 0, 10_000);
    expect(w.accepting()).toBe(true);
    const held = spool.stats();
    expect(held.rows).toBeGreaterThan(0);
    expect(held.oldestAt).toBeLessThanOrEqual(Date.now());
    expect(fs.readdirSync(path.join(dir, 'a')).every((f) => /^netlog-\d+-\d+\.jsonl$/.test(f))).toBe(true);
    cluster.start();
    await produce(2000);
    await w.close();
    await until(() => spool.empty(), 20_000);
    expect(errors.length).toBeGreaterThan(0);
    expect(await count(pool)).toEqual({ rows: 6000, ids: 6000, complete: 6000 });
    expect(await pgNetLog(pool).verify()).toMatchObject({ ok: true, verified: 6000, unsealed: 0 });
    expect(fs.readdirSync(path.join(dir, 'a'))).toEqual([]);
  }, 120_000);

  it('writes back what a gateway spooled before it stopped, and a file replayed twice adds nothing', async () => {
    const pool = await freshPool();
    const spoolDir = path.join(dir, 'b');
    cluster.stop();
    try {
      const first = createPgNetLogWriter(pool, { gatewayId: 'gw-b', spool: new NetLogSpool(spoolDir), retryMs: 100 });
      for (let i = 0; i < 1500; i++) first.record(row());
      // The database is away: close puts everything in the spool and returns.
      await first.close();
    } finally {
      cluster.start();
    }
    const files = fs.readdirSync(spoolDir);
    expect(files.length).toBeGreaterThan(0);
    const copy = fs.readFileSync(path.join(spoolDir, files[0]!), 'utf8');
    expect(copy.split('\n').filter(Boolean)).toHaveLength(1500);

    // The restarted gateway: its spool is written back before anything else.
    const spool = new NetLogSpool(spoolDir);
    expect(spool.stats().rows).toBe(1500);
    const second = createPgNetLogWriter(pool, { gatewayId: 'gw-b', spool, retryMs: 100 });
    second.record(row());
    await until(() => spool.empty(), 20_000);
    await second.close();
    expect(await count(pool)).toEqual({ rows: 1501, ids: 1501, complete: 1501 });

    // A crash after the commit and before the file was removed: the file comes back. Nothing doubles.
    fs.writeFileSync(path.join(spoolDir, files[0]!), copy);
    const third = createPgNetLogWriter(pool, { gatewayId: 'gw-b', spool: new NetLogSpool(spoolDir), retryMs: 100 });
    await until(() => fs.readdirSync(spoolDir).length === 0, 20_000);
    await third.close();
    expect(await count(pool)).toEqual({ rows: 1501, ids: 1501, complete: 1501 });
    expect(await pgNetLog(pool).verify()).toMatchObject({ ok: true, verified: 1501 });
  }, 120_000);

  it('says it is full at its bound, and skips a torn last line', async () => {
    const spoolDir = path.join(dir, 'c');
    const spool = new NetLogSpool(spoolDir, { maxBytes: 2_000 });
    await spool.append([row(), row()]);
    expect(spool.full()).toBe(false);
    await spool.append(Array.from({ length: 10 }, () => row()));
    expect(spool.full()).toBe(true);
    const [file] = fs.readdirSync(spoolDir);
    fs.appendFileSync(path.join(spoolDir, file!), '{"requestId":"torn');
    const again = new NetLogSpool(spoolDir);
    const chunk = await again.oldest();
    expect(chunk?.rows).toHaveLength(12);
    await chunk?.done();
    expect(again.empty()).toBe(true);
  });
});
