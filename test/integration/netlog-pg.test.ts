import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetLogBackend } from '../../src/netlog/backend.js';
import { pgNetLog } from '../../src/netlog/pg/backend.js';
import { DAY_MS, dropPartitionsBefore, listPartitions } from '../../src/netlog/pg/partitions.js';
import { migrateNetLogPg } from '../../src/netlog/pg/schema.js';
import { createPgNetLogWriter } from '../../src/netlog/pg/writer.js';
import { sqliteNetLog } from '../../src/netlog/sqlite-backend.js';
import type { NetLogQuery, NetLogRow, StoredNetLogRow } from '../../src/netlog/types.js';
import { openDatabase, type Db } from '../../src/store/database.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { netLogRows } from '../helpers/netlog-rows.js';

/**
 * The network log on a real PostgreSQL 15: migrations (two at once), the same reads as SQLite for
 * the same rows, forwarded-then-completed rows, one chain per gateway with gateways writing at
 * once, daily partitions and retention by dropping them.
 */

let cluster: PgCluster;
const pools: pg.Pool[] = [];
beforeAll(async () => {
  cluster = await startPostgres();
}, 60_000);
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  cluster?.destroy();
});

async function freshLog(): Promise<{ pool: pg.Pool; log: NetLogBackend }> {
  const pool = new pg.Pool({ connectionString: cluster.createDatabase(), max: 8 });
  pool.on('error', () => undefined);
  pools.push(pool);
  await migrateNetLogPg(pool);
  return { pool, log: pgNetLog(pool) };
}

const T0 = Date.UTC(2026, 10, 28, 12);
const made = netLogRows(T0);
const row = made.row;

const sansId = (rows: StoredNetLogRow[]): Omit<StoredNetLogRow, 'id'>[] => rows.map(({ id: _id, ...r }) => r);

describe('migrations', () => {
  it('two gateways migrating one empty database at once: both succeed, the tables exist once', async () => {
    const url = cluster.createDatabase();
    const a = new pg.Pool({ connectionString: url });
    const b = new pg.Pool({ connectionString: url });
    // As every pool must: an idle client the server drops reports on the pool.
    for (const p of [a, b]) p.on('error', () => undefined);
    pools.push(a, b);
    const versions = await Promise.all([migrateNetLogPg(a), migrateNetLogPg(b), migrateNetLogPg(a)]);
    expect(versions).toEqual([1, 1, 1]);
    const applied = await a.query('SELECT version FROM network_log_migrations');
    expect(applied.rows).toEqual([{ version: 1 }]);
    expect((await a.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'network_log'")).rows[0]).toEqual({ n: 1 });
  });
});

describe('the same reads as SQLite', () => {
  let dir: string;
  let db: Db;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-netlog-pg-'));
    db = openDatabase(path.join(dir, 'standin.db'));
  });
  afterAll(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers every filter, the stats, explain and export alike', async () => {
    const { log } = await freshLog();
    const lite = sqliteNetLog(db);
    const rows: NetLogRow[] = [
      row({ decision: 'swapped', secrets: ['openai@2'], host: 'api.openai.com', sandbox: 'Agent' }),
      row({ decision: 'swapped', secrets: ['openai@3', 'gh@1'], host: 'api.github.com' }),
      row({ decision: 'token_misuse', status: 403, secrets: ['openai@3'], errorCode: 'GW_TOKEN_SCOPE', host: 'evil.example', tenant: 'acme', sandbox: 'b' }),
      row({ decision: 'denied', status: 407, sandbox: null, tenant: null, method: 'CONNECT', host: '', port: 0, path: '', errorCode: 'GW_PROXY_AUTH', upstreamIp: null }),
      row({ method: 'POST', host: 'uploads.openai.com', path: '/a_b%c', bytesOut: 1234 }),
      row({ host: 'x_y.example', sandbox: 'ünïcode-😀', path: '/a\nb\t"c"\\d\u2028e', detail: { protocol: 'h2', applied: [], scrubbed: true, reason: 'é' } }),
      row({ complete: false, decision: 'swapped', secrets: ['openai@2'] }),
    ];
    const lw = lite.createWriter({ gatewayId: 'gw-a' });
    const pw = log.createWriter({ gatewayId: 'gw-a' });
    for (const r of rows) {
      lw.record(r);
      pw.record(r);
    }
    await lw.close();
    await pw.close();
    const queries: NetLogQuery[] = [
      {},
      { limit: 3 },
      { tenant: 'default' },
      { tenant: 'acme' },
      { sandbox: 'agent' },
      { host: '*.openai.com' },
      { host: 'x?y.example' },
      { host: 'x_y.example' },
      { decision: 'swapped' },
      { status: 403 },
      { method: 'connect' },
      { secret: 'openai' },
      { secret: 'OPENAI@3' },
      { secret: 'gh@1' },
      { secret: 'open' },
      { since: T0 + (made.count() - 3) * 1000 },
      { until: T0 + (made.count() - 3) * 1000 },
      { gateway: 'gw-a' },
      { gateway: 'gw-b' },
      { afterId: 2, limit: 2 },
    ];
    for (const q of queries) {
      expect(sansId(await log.query(q)), JSON.stringify(q)).toEqual(sansId(await lite.query(q)));
      expect(await log.stats(q), JSON.stringify(q)).toEqual(await lite.stats(q));
    }
    const exported: StoredNetLogRow[] = [];
    for await (const r of log.iterate({ tenant: 'default' })) exported.push(r);
    const exportedLite: StoredNetLogRow[] = [];
    for await (const r of lite.iterate({ tenant: 'default' })) exportedLite.push(r);
    expect(sansId(exported)).toEqual(sansId(exportedLite));
    for (const r of rows) {
      const { id: _a, ...p } = (await log.record(r.requestId))!;
      const { id: _b, ...s } = (await lite.record(r.requestId))!;
      expect(p).toEqual(s);
    }
    expect(await log.record(rows[2]!.requestId, 'default')).toBeUndefined();
    expect(await log.lastId()).toBeGreaterThanOrEqual(rows.length);
    const v = await log.verify();
    expect(v).toMatchObject({ ok: true, verified: 6, unsealed: 1, chains: [{ gateway: 'gw-a', head: { seq: 6 } }] });
    // The same rows hash the same: the chain does not depend on the backend.
    expect(v.chains[0]?.head).toEqual((await lite.verify()).chains[0]?.head);
  }, 60_000);
});

describe('rows of forwarded requests and the chain', () => {
  it('completes a forwarded row in place, never rewrites a sealed one, and catches edits', async () => {
    const { pool, log } = await freshLog();
    const w = createPgNetLogWriter(pool, { gatewayId: 'gw-1', intervalMs: 60_000 });
    const open = row({ complete: false, decision: 'swapped', secrets: ['s@1'] });
    w.record(open);
    await w.flush();
    w.record(row());
    await w.flush();
    expect(await log.record(open.requestId)).toMatchObject({ complete: false, chainSeq: null });
    w.record({ ...open, complete: true, bytesIn: 999 });
    await w.flush();
    expect(await log.record(open.requestId)).toMatchObject({ complete: true, chainSeq: 2, bytesIn: 999 });
    // A late copy of the forwarded row, a retried final row, a changed one: nothing changes.
    w.record({ ...open, complete: false });
    await w.flush();
    w.record({ ...open, complete: true, status: 500 });
    await w.flush();
    expect(await log.record(open.requestId)).toMatchObject({ complete: true, status: 200, bytesIn: 999, chainSeq: 2 });
    for (let i = 0; i < 8; i++) w.record(row());
    await w.close();
    const ok = await log.verify();
    expect(ok).toMatchObject({ ok: true, verified: 10, unsealed: 0 });
    const head = { gateway: 'gw-1', ...ok.chains[0]!.head };
    expect(await log.checkHead(head, ok)).toBeUndefined();

    await pool.query("UPDATE network_log SET path = '/edited' WHERE chain_seq = 4");
    let r = await log.verify();
    expect(r).toMatchObject({ ok: false, first: { kind: 'changed', seq: 4, gateway: 'gw-1' } });
    await pool.query("UPDATE network_log SET path = '/v1/models' WHERE chain_seq = 4");
    await pool.query('DELETE FROM network_log WHERE chain_seq = 7');
    r = await log.verify();
    expect(r.first).toMatchObject({ kind: 'removed', seq: 7 });
    // Cutting off the newest rows: the writer's recorded head says where the chain must reach.
    await pool.query('DELETE FROM network_log WHERE chain_seq >= 7');
    r = await log.verify();
    expect(r.ok).toBe(false);
    expect(r.first?.message).toContain('the newest rows were removed');
    expect(await log.checkHead(head, r)).toContain('the newest rows were removed');
  }, 60_000);

  it('keeps what PostgreSQL cannot store as given (NUL, lone surrogates) verifiable', async () => {
    const { log } = await freshLog();
    const w = log.createWriter({ gatewayId: 'gw-x' });
    w.record(row({ path: '/a\u0000b', detail: { protocol: 'h2', applied: [{ secret: 's', version: 1, placement: 'X: \ud800' }], scrubbed: false }, sandbox: 'x\udc00' }));
    w.record(row({ bytesIn: 1.5, durationMs: 0.4 }));
    await w.close();
    expect(await log.verify()).toMatchObject({ ok: true, verified: 2 });
    expect((await log.query({}))[0]?.path).toBe('/a\\u0000b');
  });
});

describe('log --follow (the follower)', () => {
  it('shows a row committed late behind a higher id, each row once, in id order (log --follow and polls by afterId)', async () => {
    const { pool, log } = await freshLog();
    const a = createPgNetLogWriter(pool, { gatewayId: 'gw-a', intervalMs: 1 });
    const b = createPgNetLogWriter(pool, { gatewayId: 'gw-b', intervalMs: 1 });
    // The day's partition exists (the writers make it); a follower starts at the end.
    a.record(row());
    await a.flush();
    const follower = log.follow({ limit: 1_000 }, await log.lastId());
    // What following by id alone did: the rows after the largest id seen.
    const start = await log.lastId();
    let lastSeen = start;
    const byId = {
      next: async (): Promise<{ path: string }[]> => {
        const rows = (await pool.query<{ id: string; path: string }>('SELECT id, path FROM network_log WHERE id > $1 ORDER BY id', [lastSeen])).rows;
        lastSeen = Number(rows.at(-1)?.id ?? lastSeen);
        return rows;
      },
    };
    expect(await follower.next()).toEqual([]);

    // Gateway A's batch takes its ids, then waits before it can commit: its second row's key is
    // held by another transaction, not yet committed (the unique check waits for it).
    const blocked = row();
    const holder = await pool.connect();
    let aDone: Promise<void> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query(
        `INSERT INTO network_log (gateway, request_id, at, method, scheme, host, port, path, status, decision, secrets, bytes_in, bytes_out, duration_ms, complete)
         VALUES ('holder', $1, $2, 'GET', 'https', 'h', 443, '/', 200, 'allowed', '[]', 0, 0, 0, false)`,
        [blocked.requestId, blocked.at],
      );
      const early = row({ path: '/a-first' });
      a.record(early);
      a.record(blocked);
      aDone = a.flush();
      // A's rows have their ids once its INSERT is waiting on the holder.
      const end = Date.now() + 5_000;
      while (Date.now() < end) {
        const waiting = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO network_log%'");
        if ((waiting.rows[0]?.n ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      // Gateway B's row takes a higher id and commits first.
      const late = row({ path: '/b-second' });
      b.record(late);
      await b.flush();

      // Following by id alone shows B's row now and moves past A's ids for good.
      const seenById = await byId.next();
      expect(seenById.map((r) => r.path)).toEqual(['/b-second']);
      // The follower holds B's row back while A's transaction, which took lower ids, is running,
      // and so does a poll by afterId (the control API, the viewer): it waits briefly, then
      // answers nothing new.
      expect(await follower.next()).toEqual([]);
      expect(await log.query({ afterId: start, limit: 1_000 })).toEqual([]);

      await holder.query('ROLLBACK');
    } finally {
      // Destroyed, not returned: a failed test must not leave its transaction open in the pool.
      holder.release(true);
    }
    await aDone;
    const shown: StoredNetLogRow[] = [];
    for (let i = 0; i < 50 && shown.length < 3; i++) {
      shown.push(...(await follower.next()));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(shown.map((r) => r.path)).toEqual(['/a-first', '/v1/models', '/b-second']);
    expect((await log.query({ afterId: start, limit: 1_000 })).map((r) => r.path)).toEqual(['/a-first', '/v1/models', '/b-second']);
    expect(shown.map((r) => r.id)).toEqual([...shown.map((r) => r.id)].sort((x, y) => x - y));
    // Following by id never shows A's rows: the gap this follower closes.
    expect((await byId.next()).length).toBe(0);
    // Each once: nothing more comes.
    expect(await follower.next()).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  }, 60_000);

  it('pages through many final rows, with filters', async () => {
    const { log } = await freshLog();
    const w = log.createWriter({ gatewayId: 'gw-p' });
    for (let i = 0; i < 250; i++) w.record(row({ sandbox: i % 2 === 0 ? 'even' : 'odd' }));
    await w.close();
    const f = log.follow({ sandbox: 'even', limit: 100 }, 0);
    const pages: number[] = [];
    // Another test file's transaction on this cluster may hold the follower back for a moment.
    for (let i = 0; i < 200 && pages.reduce((x, y) => x + y, 0) < 125; i++) {
      const rows = await f.next();
      expect(rows.every((r) => r.sandbox === 'even')).toBe(true);
      if (rows.length > 0) pages.push(rows.length);
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(pages).toEqual([100, 25]);
    expect(await f.next()).toEqual([]);
  });
});

describe('the write cadence', () => {
  it('rows trickling in are written one transaction per interval, not one per few rows', async () => {
    const { pool, log } = await freshLog();
    const w = createPgNetLogWriter(pool, { gatewayId: 'gw-t', intervalMs: 100 });
    // About 500 rows a second for one second, two at a time: a busy gateway's finished requests.
    const end = Date.now() + 1_000;
    let sent = 0;
    while (Date.now() < end && sent < 5_000) {
      w.record(row());
      w.record(row());
      sent += 2;
      await new Promise((r) => setTimeout(r, 4));
    }
    await w.close();
    expect((await log.verify()).verified).toBe(sent);
    // Rows committed by one transaction share its xmin.
    const tx = (await pool.query<{ n: number }>('SELECT count(DISTINCT xmin::text)::int AS n FROM network_log')).rows[0]?.n ?? 0;
    expect(sent).toBeGreaterThan(100);
    // ~10 intervals in the second, plus the last flush (back to back it was one per 2-6 rows).
    expect(tx).toBeLessThanOrEqual(16);
  });

  it('a full batch is written at once, without waiting for the interval', async () => {
    const { pool, log } = await freshLog();
    const w = createPgNetLogWriter(pool, { gatewayId: 'gw-f', intervalMs: 60_000, batchSize: 50 });
    for (let i = 0; i < 120; i++) w.record(row());
    const end = Date.now() + 5_000;
    while ((await log.verify()).verified < 100 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect((await log.verify()).verified).toBe(100);
    await w.close();
    expect((await log.verify()).verified).toBe(120);
  });
});

describe('a fleet writing one log', () => {
  it('two gateways, 16 producers each, 4000 rows: every row once, one chain per gateway, both verify', async () => {
    const { pool, log } = await freshLog();
    const a = createPgNetLogWriter(pool, { gatewayId: 'gw-a', batchSize: 200, intervalMs: 5 });
    const b = createPgNetLogWriter(pool, { gatewayId: 'gw-b', batchSize: 200, intervalMs: 5 });
    const ids = new Set<string>();
    const producer = async (w: typeof a, count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const forwarded = row({ complete: false, decision: 'swapped', secrets: ['k@1'] });
        ids.add(forwarded.requestId);
        w.record(forwarded);
        await new Promise((r) => setImmediate(r));
        w.record({ ...forwarded, complete: true });
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_v, i) => producer(i % 2 === 0 ? a : b, 125)));
    await Promise.all([a.close(), b.close()]);
    const counts = await pool.query<{ gateway: string; n: number; sealed: number; max: string }>(
      'SELECT gateway, count(*)::int AS n, count(chain_seq)::int AS sealed, max(chain_seq) AS max FROM network_log GROUP BY gateway ORDER BY gateway',
    );
    expect(counts.rows).toEqual([
      { gateway: 'gw-a', n: 2000, sealed: 2000, max: '2000' },
      { gateway: 'gw-b', n: 2000, sealed: 2000, max: '2000' },
    ]);
    expect(ids.size).toBe(4000);
    expect(await log.verify()).toMatchObject({ ok: true, verified: 4000, unsealed: 0 });
    expect((await log.query({ gateway: 'gw-b', limit: 5 })).every((r) => r.gateway === 'gw-b')).toBe(true);
  }, 60_000);

  it('two writers that share one gateway id serialise on its head instead of forking the chain', async () => {
    const { pool, log } = await freshLog();
    const a = createPgNetLogWriter(pool, { gatewayId: 'same', batchSize: 50, intervalMs: 1 });
    const b = createPgNetLogWriter(pool, { gatewayId: 'same', batchSize: 50, intervalMs: 1 });
    for (let i = 0; i < 1000; i++) (i % 2 === 0 ? a : b).record(row());
    await Promise.all([a.close(), b.close()]);
    expect(await log.verify()).toMatchObject({ ok: true, verified: 1000, chains: [{ gateway: 'same', head: { seq: 1000 } }] });
  }, 60_000);
});

describe('partitions and retention', () => {
  it('puts each day in its own partition, made ahead, and drops whole days past the age bound with an anchor per gateway', async () => {
    const { pool, log } = await freshLog();
    const now = Date.UTC(2026, 11, 1, 10);
    const w = createPgNetLogWriter(pool, { gatewayId: 'g1', clock: () => now, maxAgeMs: 0 });
    const w2 = createPgNetLogWriter(pool, { gatewayId: 'g2', clock: () => now, maxAgeMs: 0 });
    for (let d = 4; d >= 0; d--) {
      for (let i = 0; i < 10; i++) {
        w.record(row({ at: now - d * DAY_MS + i }));
        w2.record(row({ at: now - d * DAY_MS + i + 100 }));
      }
      await w.flush();
      await w2.flush();
    }
    // A long exchange that started four days ago and ended now: sealed after the rows above.
    w.record(row({ at: now - 4 * DAY_MS + 50 }));
    await Promise.all([w.close(), w2.close()]);
    const names = (await listPartitions(pool)).map((p) => p.name);
    expect(names).toEqual(['network_log_p20261127', 'network_log_p20261128', 'network_log_p20261129', 'network_log_p20261130', 'network_log_p20261201', 'network_log_p20261202', 'network_log_p20261203']);
    const plan = (await pool.query(`EXPLAIN SELECT * FROM network_log WHERE at >= ${now - 3600_000}`)).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('network_log_p20261201');
    expect(plan).not.toContain('network_log_p20261130');

    // Older than 2.4 days (Nov 29, 00:24): the days of Nov 27 and 28 go; Nov 29 still holds younger rows.
    const dropped = await dropPartitionsBefore(pool, now - 2.4 * DAY_MS, now);
    expect(dropped).toEqual({ dropped: ['network_log_p20261127', 'network_log_p20261128'], rows: 41 });
    const v = await log.verify();
    expect(v.ok).toBe(true);
    // g1 lost positions 1-20 and its long exchange (51), so verification starts after 51: nothing left above.
    expect(v.chains.map((c) => [c.gateway, c.anchor, c.verified, c.head.seq])).toEqual([
      ['g1', 51, 0, 51],
      ['g2', 20, 30, 50],
    ]);
    expect(await pool.query('SELECT count(*)::int AS n FROM network_log')).toMatchObject({ rows: [{ n: 60 }] });
    // The writer's own retention runs with its age bound.
    const w3 = createPgNetLogWriter(pool, { gatewayId: 'g2', clock: () => now, maxAgeMs: 1.4 * DAY_MS });
    w3.record(row({ at: now }));
    await w3.close();
    expect((await listPartitions(pool)).map((p) => p.name)[0]).toBe('network_log_p20261130');
    expect((await log.verify()).ok).toBe(true);
  }, 60_000);
});
