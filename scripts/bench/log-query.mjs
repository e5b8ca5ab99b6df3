#!/usr/bin/env node
// `npm run bench:log [-- --rows N]` (after `npm run build`): the network-log queries of `standin log`,
// `log stats` and `log verify` over N rows (default 1,000,000) in a fresh database, written
// through the real writer (so every row is chained). Prints the median of 5 runs per query.
// Not a timed test: numbers depend on the machine; the README quotes a run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const { openDatabase } = await import(join(root, 'dist/store/database.js'));
const { createNetLogWriter } = await import(join(root, 'dist/netlog/writer.js'));
const { queryNetLog, iterateNetLog } = await import(join(root, 'dist/netlog/query.js'));
const { netLogStats } = await import(join(root, 'dist/netlog/stats.js'));
const { verifyLog } = await import(join(root, 'dist/netlog/verify.js'));

const argRows = process.argv.indexOf('--rows');
const ROWS = argRows > 0 ? Number(process.argv[argRows + 1]) : 1_000_000;
const log = (s) => process.stdout.write(`${s}\n`);
const dir = mkdtempSync(join(tmpdir(), 'standin-logbench-'));
const db = openDatabase(join(dir, 'standin.db'));

// A plausible mix: 50 sandboxes in 3 tenants, 200 hosts, 1 in 20 refused, 1 in 3 swapped.
const now = Date.now();
const span = 7 * 24 * 3600 * 1000;
const hosts = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? `api${i}.openai.com` : `svc${i}.example${i % 7}.com`));
const decisions = ['allowed', 'swapped', 'swapped', 'allowed', 'allowed', 'swapped'];
const t0 = performance.now();
const writer = createNetLogWriter(db, { batchSize: 5_000, intervalMs: 60_000, maxQueue: 1_000_000, retention: { maxRows: 10_000_000, maxAgeMs: 1e13 } });
for (let i = 0; i < ROWS; i++) {
  const refused = i % 20 === 7;
  const decision = refused ? (i % 40 === 7 ? 'token_misuse' : 'denied') : decisions[i % decisions.length];
  const sb = i % 50;
  writer.record({
    requestId: `r-${i}`, at: now - span + Math.floor((i / ROWS) * span), sandbox: `sandbox-${sb}`, tenant: `t${sb % 3}`,
    method: i % 9 === 0 ? 'POST' : 'GET', scheme: 'https', host: hosts[(i * 7) % hosts.length], port: 443,
    path: `/v1/items/${i % 1000}`, status: refused ? 403 : i % 97 === 0 ? 500 : 200, decision,
    secrets: decision === 'swapped' || decision === 'token_misuse' ? [`key${sb % 10}@${1 + (i % 3)}`] : [],
    bytesIn: 512 + (i % 4096), bytesOut: i % 9 === 0 ? 2048 : 0, durationMs: 3 + (i % 50), upstreamIp: '93.184.216.34',
    errorCode: refused ? (decision === 'token_misuse' ? 'GW_TOKEN_SCOPE' : 'GW_EGRESS_DENIED') : null,
    detail: { protocol: 'http/1.1', applied: [], scrubbed: decision === 'swapped' },
  });
  if (i % 5_000 === 4_999) writer.flush();
}
writer.close();
db.pragma('optimize');
log(`${ROWS} rows written (chained) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const median = (f) => {
  const times = [];
  let n = 0;
  for (let k = 0; k < 5; k++) {
    const s = performance.now();
    n = f();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  return { ms: times[2], n };
};
const q = (filter) => () => queryNetLog(db, { limit: 100, ...filter }).length;
const cases = [
  ['newest 100, no filter', q({})],
  ['--sandbox sandbox-7', q({ sandbox: 'sandbox-7' })],
  ['--tenant t1 --sandbox sandbox-7', q({ tenant: 't1', sandbox: 'sandbox-7' })],
  ['--host api8.openai.com', q({ host: 'api8.openai.com' })],
  ["--host '*.openai.com'", q({ host: '*.openai.com' })],
  ['--decision token_misuse', q({ decision: 'token_misuse' })],
  ['--status 500', q({ status: 500 })],
  ['--secret key3@2', q({ secret: 'key3@2' })],
  ['--method POST', q({ method: 'POST' })],
  ['--secret nosuch (no match: every row looked at)', q({ secret: 'nosuch' })],
  ["--host '*.nomatch.test' (no match: every row looked at)", q({ host: '*.nomatch.test' })],
  ['--since 15m', q({ since: now - 15 * 60_000 })],
  ['--since 2d --until 1d --sandbox sandbox-7', q({ sandbox: 'sandbox-7', since: now - 2 * 86_400_000, until: now - 86_400_000 })],
  ['--decision denied --host api8.openai.com --since 1d', q({ decision: 'denied', host: 'api8.openai.com', since: now - 86_400_000 })],
  ['follow poll (afterId near the end)', () => queryNetLog(db, { afterId: ROWS - 50, limit: 1000, sandbox: 'sandbox-7' }).length],
  ['log stats --since 1h', () => netLogStats(db, { since: now - 3_600_000 }).total.requests],
  ['log stats --since 1d --tenant t1', () => netLogStats(db, { since: now - 86_400_000, tenant: 't1' }).total.requests],
];
log('\n| query (1,000,000 rows unless stated) | rows | median ms |\n| --- | --- | --- |');
for (const [name, f] of cases) {
  const { ms, n } = median(f);
  log(`| \`${name}\` | ${n} | ${ms.toFixed(1)} |`);
}
let s = performance.now();
const v = verifyLog(db);
log(`| \`log verify\` (whole chain) | ${v.verified} | ${(performance.now() - s).toFixed(0)} |`);
s = performance.now();
let exported = 0;
for (const r of iterateNetLog(db, { sandbox: 'sandbox-7' })) exported += r.id > 0 ? 1 : 0;
log(`| \`log export --sandbox sandbox-7\` (iterate) | ${exported} | ${(performance.now() - s).toFixed(0)} |`);
db.close();
rmSync(dir, { recursive: true, force: true });
