#!/usr/bin/env node
// `node scripts/bench/netlog-pg.mjs [--rows N] [--query-rows M] [--database URL] [--fast]` after
// `npm run build`: the network log on PostgreSQL.
//   1. insert methods for one batch stream (100k rows, 1,000 per batch, one connection): the
//      writer's INSERT ... SELECT FROM unnest, multi-row VALUES, COPY into a staging table + merge,
//      and the same unnest INSERT through the `postgres` client instead of `pg`; then the real
//      writer (chain head lock, sealed check, hashing) on the same rows.
//   2. rows per second with 32 concurrent producers across two writer instances (two gateway
//      ids, as two gateways on one database), each exchange one final row, 1 in 3 also a
//      forwarded row first (a long request).
//   3. the reads of `standin log` over M generated rows (default 3,000,000 over 7 daily partitions).
// Without --database it starts a throwaway cluster (Debian's postgresql 15) with PostgreSQL's
// default durability (fsync on; --fast turns it off). `postgres` and `pg-copy-streams` are not
// dependencies: point BENCH_EXTRA_MODULES at a directory whose node_modules holds them to include
// those columns. Not a timed test: numbers depend on the machine; the README quotes a run.
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import { startCluster } from './lib/pg-cluster.mjs';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const { default: pg } = await import('pg');
const { pgNetLog } = await import(join(root, 'dist/netlog/pg/backend.js'));
const { migrateNetLogPg } = await import(join(root, 'dist/netlog/pg/schema.js'));
const { createPgNetLogWriter } = await import(join(root, 'dist/netlog/pg/writer.js'));
const { ensurePartitions, DAY_MS, dayOf } = await import(join(root, 'dist/netlog/pg/partitions.js'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const ROWS = Number(arg('--rows', '200000'));
const QUERY_ROWS = Number(arg('--query-rows', '3000000'));
const METHOD_ROWS = 100_000;
const BATCH = 1_000;
const log = (s) => process.stdout.write(`${s}\n`);
const extra = process.env.BENCH_EXTRA_MODULES ? createRequire(join(resolve(process.env.BENCH_EXTRA_MODULES), 'x.js')) : undefined;
const optional = (name) => {
  try {
    return extra?.(name);
  } catch {
    return undefined;
  }
};

const cluster = arg('--database') === undefined ? await startCluster({ fast: process.argv.includes('--fast') }) : undefined;
const url = arg('--database') ?? cluster.url;
const pool = new pg.Pool({ connectionString: url, max: 8 });
pool.on('error', () => undefined);
const cleanup = async () => {
  await pool.end().catch(() => undefined);
  cluster?.stop();
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

const hosts = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? `api${i}.openai.com` : `svc${i}.example${i % 7}.com`));
let seq = 0;
function mkRow(at, extraFields = {}) {
  const i = seq++;
  const swapped = i % 3 === 0;
  return {
    requestId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, at, sandbox: `sandbox-${i % 50}`, tenant: `t${(i % 50) % 3}`,
    method: i % 9 === 0 ? 'POST' : 'GET', scheme: 'https', host: hosts[(i * 7) % hosts.length], port: 443, path: `/v1/items/${i % 1000}`,
    status: 200, decision: swapped ? 'swapped' : 'allowed', secrets: swapped ? [`key${i % 10}@1`] : [], bytesIn: 512 + (i % 4096), bytesOut: 0,
    durationMs: 3 + (i % 50), upstreamIp: '93.184.216.34', errorCode: null,
    detail: { protocol: 'h2', applied: swapped ? [{ secret: `key${i % 10}`, version: 1, placement: 'Authorization: Bearer [secret]' }] : [], scrubbed: swapped },
    ...extraFields,
  };
}

// The columns as the writer binds them (without the chain: raw insert methods compare transport only).
const COLS = [
  ['gateway', 'text'], ['request_id', 'text'], ['at', 'bigint'], ['tenant', 'text'], ['sandbox', 'text'], ['method', 'text'], ['scheme', 'text'],
  ['host', 'text'], ['port', 'integer'], ['path', 'text'], ['status', 'integer'], ['decision', 'text'], ['secrets', 'text'], ['bytes_in', 'bigint'],
  ['bytes_out', 'bigint'], ['duration_ms', 'bigint'], ['upstream_ip', 'text'], ['error_code', 'text'], ['complete', 'boolean'], ['detail', 'text'],
];
const values = (r) => [
  'bench', r.requestId, r.at, r.tenant, r.sandbox, r.method, r.scheme, r.host, r.port, r.path, r.status, r.decision, JSON.stringify(r.secrets),
  r.bytesIn, r.bytesOut, r.durationMs, r.upstreamIp, r.errorCode, true, JSON.stringify(r.detail),
];
const names = COLS.map((c) => c[0]).join(', ');
const UPDATE = `ON CONFLICT (request_id, at) DO UPDATE SET ${COLS.filter(([c]) => c !== 'request_id' && c !== 'at').map(([c]) => `${c} = excluded.${c}`).join(', ')} WHERE network_log.complete = false`;
const UNNEST = `INSERT INTO network_log (${names}) SELECT * FROM unnest(${COLS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}) ${UPDATE}`;
const columns = (rows) => {
  const v = rows.map(values);
  return COLS.map((_c, k) => v.map((r) => r[k]));
};

const now = Date.now();
await migrateNetLogPg(pool);
await ensurePartitions(pool, Array.from({ length: 10 }, (_, d) => now - 7 * DAY_MS + d * DAY_MS));
const truncate = () => pool.query('TRUNCATE network_log, network_log_heads, network_log_anchor');
const batches = (n) => {
  const out = [];
  for (let b = 0; b < n / BATCH; b++) out.push(Array.from({ length: BATCH }, (_, k) => mkRow(now - 3_600_000 + b * BATCH + k)));
  return out;
};
const rate = (n, ms) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')} rows/s`;

log(`# network log on PostgreSQL (${cluster ? `throwaway cluster, ${process.argv.includes('--fast') ? 'fsync off' : 'default durability'}` : 'given database'})`);
log('\n## 1. insert methods (100,000 rows, batches of 1,000, one connection)\n');
log('| method | rows/s |\n| --- | --- |');
const methods = [
  ['pg: INSERT ... SELECT FROM unnest (one array per column)', async (b) => pool.query(UNNEST, columns(b))],
  [
    'pg: multi-row INSERT ... VALUES',
    async (b) => {
      const params = b.flatMap(values);
      const rowsSql = b.map((_r, i) => `(${COLS.map((c, k) => `$${i * COLS.length + k + 1}::${c[1]}`).join(', ')})`).join(', ');
      await pool.query(`INSERT INTO network_log (${names}) VALUES ${rowsSql} ${UPDATE}`, params);
    },
  ],
];
const copyStreams = optional('pg-copy-streams');
if (copyStreams) {
  const client = await pool.connect();
  await client.query(`CREATE TEMP TABLE staging (LIKE network_log INCLUDING DEFAULTS)`);
  const esc = (v) => (v === null || v === undefined ? '\\N' : String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t'));
  methods.push([
    'pg + pg-copy-streams: COPY into a staging table, INSERT ... SELECT ON CONFLICT',
    async (b) => {
      await client.query('BEGIN');
      const stream = client.query(copyStreams.from(`COPY staging (${names}) FROM STDIN`));
      const done = new Promise((res, rej) => stream.on('finish', res).on('error', rej));
      stream.end(b.map((r) => values(r).map(esc).join('\t')).join('\n') + '\n');
      await done;
      await client.query(`INSERT INTO network_log (${names}) SELECT ${names} FROM staging ${UPDATE}`);
      await client.query('TRUNCATE staging');
      await client.query('COMMIT');
    },
  ]);
  methods.release = () => client.release();
}
const postgres = optional('postgres');
let sqljs;
if (postgres) {
  sqljs = postgres(url, { max: 1, onnotice: () => undefined });
    // postgres.js's own bulk insert (multi-row VALUES from objects), against pg's multi-row VALUES above.
  const keys = COLS.map(([c]) => c);
  methods.push([
    'postgres (postgres.js): multi-row INSERT ... VALUES (its sql(rows, columns) helper)',
    async (b) => sqljs`INSERT INTO network_log ${sqljs(b.map((r) => Object.fromEntries(values(r).map((v, k) => [keys[k], v]))), keys)} ${sqljs.unsafe(UPDATE)}`,
  ]);
}
// Rounds interleave the methods, so that the machine's drift hits all alike; the median is shown.
const ROUNDS = Number(arg('--rounds', '3'));
const times = methods.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  for (const [m, [name, insert]] of methods.entries()) {
    await truncate();
    const data = batches(METHOD_ROWS);
    const t = performance.now();
    for (const b of data) await insert(b);
    times[m].push(performance.now() - t);
    const n = Number((await pool.query('SELECT count(*) AS n FROM network_log')).rows[0].n);
    if (n !== METHOD_ROWS) throw new Error(`${name}: ${n} rows instead of ${METHOD_ROWS}`);
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [m, [name]] of methods.entries()) {
  log(`| ${name} | ${rate(METHOD_ROWS, med(times[m]))} (x${(med(times[0]) / med(times[m])).toFixed(2)} of unnest; rounds: ${times[m].map((t) => rate(METHOD_ROWS, t).replace(' rows/s', '')).join(', ')}) |`);
}
methods.release?.();
await sqljs?.end();
if (!copyStreams || !postgres) log('\n(BENCH_EXTRA_MODULES not set or incomplete: COPY and/or postgres.js columns skipped)');
{
  await truncate();
  const w = createPgNetLogWriter(pool, { gatewayId: 'bench', batchSize: BATCH, intervalMs: 60_000 });
  const data = batches(METHOD_ROWS).flat();
  const t = performance.now();
  for (const r of data) w.record(r);
  await w.close();
  log(`| the writer (pg: head row lock, SHA-256 chain, unnest INSERT + head update in one statement; 4 round trips a batch) | ${rate(METHOD_ROWS, performance.now() - t)} |`);
}

log(`\n## 2. ${ROWS.toLocaleString('en-US')} exchanges, 32 concurrent producers, two writer instances (gateways gw-a, gw-b)\n`);
{
  await truncate();
  const writers = ['gw-a', 'gw-b'].map((g) => createPgNetLogWriter(pool, { gatewayId: g, batchSize: BATCH }));
  let records = 0;
  const t = performance.now();
  const producer = async (p) => {
    const w = writers[p % 2];
    for (let i = p; i < ROWS; i += 32) {
      const r = mkRow(now - 60_000 + i);
      if (i % 3 === 0) {
        w.record({ ...r, complete: false });
        records++;
      }
      w.record(r);
      records++;
      if (i % 64 < 32) await tick();
    }
  };
  await Promise.all(Array.from({ length: 32 }, (_, p) => producer(p)));
  const produced = performance.now() - t;
  await Promise.all(writers.map((w) => w.close()));
  const ms = performance.now() - t;
  const counts = (await pool.query('SELECT gateway, count(*)::int AS n, max(chain_seq)::int AS head FROM network_log GROUP BY gateway ORDER BY gateway')).rows;
  const total = counts.reduce((s, c) => s + c.n, 0);
  if (total !== ROWS) throw new Error(`${total} rows instead of ${ROWS}`);
  log(`| exchanges (rows in the table) | record() calls | produced in | all committed in | rows/s | per gateway |\n| --- | --- | --- | --- | --- | --- |`);
  log(`| ${ROWS.toLocaleString('en-US')} | ${records.toLocaleString('en-US')} | ${produced.toFixed(0)} ms | ${ms.toFixed(0)} ms | ${rate(ROWS, ms)} | ${counts.map((c) => `${c.gateway}: ${c.n} (head ${c.head})`).join(', ')} |`);
  const v = await pgNetLog(pool).verify();
  log(`\nverify: ${v.ok ? 'ok' : 'FAILED'}, ${v.verified} rows over ${v.chains.length} chains`);
}

log(`\n## 3. reads over ${QUERY_ROWS.toLocaleString('en-US')} rows (7 daily partitions; 50 sandboxes in 3 tenants, 200 hosts)\n`);
{
  await truncate();
  const span = 7 * DAY_MS;
  const t = performance.now();
  const CHUNK = 500_000;
  for (let from = 1; from <= QUERY_ROWS; from += CHUNK) {
    const to = Math.min(QUERY_ROWS, from + CHUNK - 1);
    await pool.query(
      `INSERT INTO network_log (gateway, request_id, at, tenant, sandbox, method, scheme, host, port, path, status, decision, secrets, bytes_in, bytes_out, duration_ms, upstream_ip, error_code, complete, detail)
       SELECT CASE WHEN i % 2 = 0 THEN 'gw-a' ELSE 'gw-b' END, 'q-' || i, $1::bigint - $2::bigint + (i::bigint * $2::bigint / $3::bigint), 't' || (i % 50 % 3), 'sandbox-' || (i % 50),
              CASE WHEN i % 9 = 0 THEN 'POST' ELSE 'GET' END, 'https',
              CASE WHEN (i * 7 % 200) % 4 = 0 THEN 'api' || (i * 7 % 200) || '.openai.com' ELSE 'svc' || (i * 7 % 200) || '.example' || ((i * 7 % 200) % 7) || '.com' END,
              443, '/v1/items/' || (i % 1000), CASE WHEN i % 20 = 7 THEN 403 ELSE 200 END,
              CASE WHEN i % 20 = 7 THEN 'denied' WHEN i % 3 = 0 THEN 'swapped' ELSE 'allowed' END,
              CASE WHEN i % 3 = 0 AND i % 20 <> 7 THEN '["key' || (i % 10) || '@1"]' ELSE '[]' END,
              512 + i % 4096, 0, 3 + i % 50, '93.184.216.34', CASE WHEN i % 20 = 7 THEN 'GW_EGRESS_DENIED' END, true, NULL
       FROM generate_series($4::bigint, $5::bigint) AS i`,
      [now, span, QUERY_ROWS, from, to],
    );
  }
  await pool.query('ANALYZE network_log');
  log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s; table + indexes: ${(await pool.query("SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) AS s FROM pg_inherits WHERE inhparent = 'network_log'::regclass")).rows[0].s}\n`);
  const reader = pgNetLog(pool);
  const last = await reader.lastId();
  const median = async (f) => {
    const ms = [];
    for (let k = 0; k < 5; k++) {
      const s = performance.now();
      await f();
      ms.push(performance.now() - s);
    }
    return ms.sort((a, b) => a - b)[2].toFixed(1);
  };
  const cases = [
    ['`log` (newest 100, tenant t0)', () => reader.query({ tenant: 't0', limit: 100 })],
    ['`log --sandbox sandbox-7`', () => reader.query({ tenant: 't1', sandbox: 'sandbox-7', limit: 100 })],
    ['`log --host api28.openai.com`', () => reader.query({ tenant: 't0', host: 'api28.openai.com', limit: 100 })],
    ["`log --host '*.openai.com'`", () => reader.query({ tenant: 't0', host: '*.openai.com', limit: 100 })],
    ['`log --sandbox sandbox-7 --since 1h`', () => reader.query({ tenant: 't1', sandbox: 'sandbox-7', since: now - 3_600_000, limit: 100 })],
    ['`log --secret key3 --since 1h`', () => reader.query({ tenant: 't0', secret: 'key3', since: now - 3_600_000, limit: 100 })],
    ['`log --follow` poll (after the last id - 100)', () => reader.query({ tenant: 't0', afterId: last - 100, limit: 1000 })],
    ['`log stats --sandbox sandbox-7 --since 1d`', () => reader.stats({ tenant: 't1', sandbox: 'sandbox-7', since: now - DAY_MS })],
    ['`log stats --since 1h` (whole tenant)', () => reader.stats({ tenant: 't0', since: now - 3_600_000 })],
    ['`log explain ID`', () => reader.record(`q-${Math.floor(QUERY_ROWS / 2)}`, 't0')],
    ['last id (`--follow --limit 0`)', () => reader.lastId()],
  ];
  log('| read | median of 5 (ms) |\n| --- | --- |');
  for (const [name, f] of cases) log(`| ${name} | ${await median(f)} |`);
  const plan = await pool.query(
    `EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) SELECT id FROM network_log WHERE tenant = 't1' AND lower(sandbox) = lower('sandbox-7') ORDER BY at DESC, id DESC LIMIT 100`,
  );
  log('\nEXPLAIN ANALYZE of `log --sandbox sandbox-7` (first lines):\n');
  log('```');
  for (const r of plan.rows.slice(0, 8)) log(r['QUERY PLAN']);
  log(plan.rows.at(-1)['QUERY PLAN']);
  log('```');
  const drop = performance.now();
  const { dropPartitionsBefore } = await import(join(root, 'dist/netlog/pg/partitions.js'));
  const dropped = await dropPartitionsBefore(pool, dayOf(now - 5 * DAY_MS), now);
  log(`\nretention: dropped ${dropped.dropped.length} day(s), ${dropped.rows.toLocaleString('en-US')} rows, in ${(performance.now() - drop).toFixed(0)} ms`);
}
await cleanup();
