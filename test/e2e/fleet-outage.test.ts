import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viaProxy, type Reply } from '../helpers/client.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { removeHome, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// The database goes away under load, in one run that checks both promises of an outage:
//  - fail closed: the gateway keeps swapping from its snapshot for the bound
//    (`--db-stale-seconds 2`), then refuses every swap with GW_STORE_STALE (and says so on /readyz
//    and in the snapshot-age gauge), and the upstream sees no real credential after that point;
//  - the network log: rows spool on disk while the database is away and are written when it is
//    back, so that every request the clients sent has exactly one row (none lost, none twice).
// When PostgreSQL is back, swaps resume by themselves.
const PLANTED = `sk-PLANTED-outage-${randomBytes(6).toString('hex')}`;
const HOST = 'api.standin.test';
const BOUND_MS = 2_000;
// A request decided just before the bound is forwarded a little later (on a loaded machine).
const SLACK_MS = 250;
const SANDBOXES = ['s1', 's2', 's3'];

let pg: PgCluster;
let dbName: string;
let upstream: Upstream;
let gw: ServeProcess;
let ca: string;
const sandboxes: { name: string; token: string; proxy: string }[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  upstream = await startUpstream();
  const url = pg.createDatabase();
  dbName = new URL(url).pathname.slice(1);
  const env = { STANDIN_DATABASE_URL: url, STANDIN_MASTER_KEY: randomBytes(32).toString('base64') };
  gw = await startServe(upstream.port, [HOST], ['--db-stale-seconds', String(BOUND_MS / 1000)], undefined, env);
  expect(gw.cli(['secret', 'create', 'svc', '--hosts', `${HOST}:${upstream.port}`, '--value-stdin'], PLANTED).code).toBe(0);
  for (const name of SANDBOXES) {
    const created = gw.cli(['sandbox', 'create', name, '--bind', 'K=svc', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const e = (JSON.parse(created.stdout) as { env: Record<string, string> }).env;
    sandboxes.push({ name, token: e['K'] ?? '', proxy: e['HTTPS_PROXY'] ?? '' });
  }
  ca = readFileSync(join(gw.home, 'ca', 'ca.pem'), 'utf8');
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  pg?.destroy();
  if (gw !== undefined) removeHome(gw.home);
});

function send(sb: (typeof sandboxes)[number], path: string): Promise<Reply> {
  return viaProxy(sb.proxy, ca, `https://${HOST}:${upstream.port}${path}`, { headers: { authorization: `Bearer ${sb.token}` } });
}

function control(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(gw.home, 'run', 'control.sock'), path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const gauge = async (name: string): Promise<number> => Number(new RegExp(`^standin_${name} (\\S+)$`, 'm').exec((await control('/metrics')).body)?.[1] ?? 'NaN');

interface Sent {
  path: string;
  sentAt: number;
  answeredAt: number;
  status: number;
  code: string | undefined;
  body: string;
}

describe('PostgreSQL stopped and started under load', () => {
  it('serves from the snapshot for the bound, then refuses swaps, recovers, and every request has exactly one row', async () => {
    for (const sb of sandboxes) await waitFor(async () => (await send(sb, '/echo/warm-up')).status === 200, 5_000);
    expect((await control('/readyz')).status).toBe(200);

    // Load: each sandbox sends requests back to back, each on its own path (so that its row and
    // what the upstream received can be told apart), bounded in count and stopped below.
    const sent: Sent[] = [];
    const failed: string[] = [];
    let running = true;
    const loops = sandboxes.map(async (sb) => {
      for (let i = 0; running && i < 5_000; i++) {
        const path = `/echo/outage-${sb.name}-${i}`;
        const sentAt = Date.now();
        const r = await send(sb, path).catch((e: unknown) => {
          failed.push(`${path}: ${e instanceof Error ? e.message : 'error'}`);
          return undefined;
        });
        if (r === undefined) continue;
        sent.push({ path, sentAt, answeredAt: Date.now(), status: r.status, code: /"code":"([A-Z_]+)"/.exec(r.body)?.[1], body: r.body });
      }
    });
    const swappedAt = (path: string): boolean => upstream.received.some((x) => x.url === path && x.headers.authorization === `Bearer ${PLANTED}`);

    await sleep(300);
    pg.stop();
    // The database is surely down from here (pg_ctl -w returned); the bound runs from here at the latest.
    const downAt = Date.now();
    await sleep(500);
    // Still serving from the snapshot, and saying the database is away.
    const duringText = (await control('/readyz')).body;
    const during = JSON.parse(duringText) as { database: boolean; stale: boolean };
    expect(during.database, duringText).toBe(false);
    await waitFor(async () => JSON.parse((await control('/readyz')).body).stale === true, BOUND_MS + 3_000);
    const stale = await control('/readyz');
    expect(stale.status).toBe(503);
    expect(JSON.parse(stale.body)).toMatchObject({ status: 'not ready', database: false, stale: true });
    expect(await gauge('store_snapshot_age_seconds')).toBeGreaterThan(BOUND_MS / 1000);
    // Let requests run well past the bound (counted from when the database was surely down);
    // their rows meanwhile go to the spool.
    await sleep(Math.max(0, downAt + BOUND_MS + SLACK_MS + 1_500 - Date.now()));
    expect(await gauge('netlog_spool_rows')).toBeGreaterThan(0);
    const upstreamAtRestart = upstream.received.length;
    const backAt = Date.now();
    pg.start();
    await waitFor(async () => (await control('/readyz')).status === 200, 15_000);
    await waitFor(async () => sent.slice(-SANDBOXES.length).some((s) => swappedAt(s.path)), 5_000);
    running = false;
    await Promise.all(loops);

    // (b) fail closed. Swapped during the outage only up to the bound...
    const boundAt = downAt + BOUND_MS;
    const inOutage = sent.filter((s) => s.sentAt > downAt && s.answeredAt < backAt);
    expect(inOutage.some((s) => swappedAt(s.path))).toBe(true);
    // ...and every request sent once the bound had passed, while the database was still down,
    // was refused with GW_STORE_STALE and reached no upstream with the credential.
    const pastBound = sent.filter((s) => s.sentAt > boundAt + SLACK_MS && s.answeredAt < backAt);
    expect(pastBound.length).toBeGreaterThan(SANDBOXES.length);
    for (const s of pastBound) {
      expect({ path: s.path, status: s.status, code: s.code }).toEqual({ path: s.path, status: 503, code: 'GW_STORE_STALE' });
      expect(swappedAt(s.path)).toBe(false);
    }
    // Nothing the upstream received between the bound (plus slack) and the restart carried the
    // value, whoever sent it.
    const marks = upstream.received.slice(0, upstreamAtRestart);
    const lastSwapIndex = marks.map((x) => x.headers.authorization === `Bearer ${PLANTED}`).lastIndexOf(true);
    const lastSwap = sent.find((s) => s.path === marks[lastSwapIndex]?.url);
    expect(lastSwap).toBeDefined();
    expect(lastSwap!.sentAt).toBeLessThan(boundAt + SLACK_MS);

    // (a) the log. Once the spool has drained, every request answered has exactly one row, and
    // no request id appears twice.
    expect(failed).toEqual([]);
    await waitFor(async () => (await gauge('netlog_spool_rows')) === 0 && (await gauge('netlog_queue_depth')) === 0, 15_000);
    const rows = () =>
      pg
        .superSql(`SELECT path, request_id, status, coalesce(error_code, '') FROM network_log WHERE path LIKE '/echo/outage-%'`, dbName)
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split('|'));
    await waitFor(async () => rows().length >= sent.length, 5_000);
    const logged = rows();
    const byPath = new Map<string, number>();
    for (const [path] of logged) byPath.set(path ?? '', (byPath.get(path ?? '') ?? 0) + 1);
    expect(logged.length).toBe(sent.length);
    for (const s of sent) expect({ path: s.path, rows: byPath.get(s.path) ?? 0 }).toEqual({ path: s.path, rows: 1 });
    expect(new Set(logged.map((r) => r[1])).size).toBe(logged.length);
    // The refusals are in the log as refusals.
    const refusedRows = logged.filter((r) => r[3] === 'GW_STORE_STALE').length;
    expect(refusedRows).toBe(sent.filter((s) => s.code === 'GW_STORE_STALE').length);
    expect(refusedRows).toBeGreaterThan(0);
    // The log's chain verifies across the outage, and no value is anywhere.
    const verify = gw.cli(['log', 'verify']);
    expect(verify.code, verify.stderr).toBe(0);
    const logText = pg.superSql(`SELECT string_agg(path || coalesce(detail, '') || secrets, ' ') FROM network_log`, dbName);
    const spoolDir = join(gw.home, 'spool');
    const leftInSpool = readdirSync(spoolDir).filter((f) => f.endsWith('.jsonl'));
    expect(leftInSpool).toEqual([]);
    for (const text of [gw.stdout(), gw.stderr(), logText, ...sent.map((s) => s.body)]) expect(text).not.toContain(PLANTED);
  }, 120_000);
});

// With `--workers 2` the proxy runs in workers and the one log writer (with its spool) in the
// primary: the workers learn from it when the spool is at its bound and refuse new exchanges
// (503 GW_LOG_UNAVAILABLE) rather than forward requests whose rows could not be kept.
describe('the spool at its bound, with proxy workers', () => {
  it('every worker refuses new exchanges while the primary cannot keep rows, and serves again once it can', async () => {
    const url = pg.createDatabase();
    const env = { STANDIN_DATABASE_URL: url, STANDIN_MASTER_KEY: randomBytes(32).toString('base64') };
    // A long stale bound: the only refusal here is the log's.
    const g = await startServe(upstream.port, [HOST], ['--workers', '2', '--log-spool-bytes', '4096', '--db-stale-seconds', '600'], undefined, env);
    try {
      expect(g.cli(['secret', 'create', 'svc2', '--hosts', `${HOST}:${upstream.port}`, '--value-stdin'], PLANTED).code).toBe(0);
      const e = (JSON.parse(g.cli(['sandbox', 'create', 'w', '--bind', 'K=svc2', '--json']).stdout) as { env: Record<string, string> }).env;
      const sb = { name: 'w', token: e['K'] ?? '', proxy: e['HTTPS_PROXY'] ?? '' };
      const caW = readFileSync(join(g.home, 'ca', 'ca.pem'), 'utf8');
      const paths: string[] = [];
      const call = async (): Promise<Reply & { path: string }> => {
        const path = `/echo/workers-${paths.length}`;
        paths.push(path);
        const r = await viaProxy(sb.proxy, caW, `https://${HOST}:${upstream.port}${path}`, { headers: { authorization: `Bearer ${sb.token}` } });
        return { ...r, path };
      };
      const code = (r: Reply): string | undefined => /"code":"([A-Z_]+)"/.exec(r.body)?.[1];
      await waitFor(async () => (await call()).status === 200, 5_000);

      pg.stop();
      // Rows of the requests below fill the small spool within a few retries (500 ms apart).
      let first: number | undefined;
      for (let i = 0; i < 400 && first === undefined; i++) {
        const r = await call();
        if (r.status === 503) {
          expect(code(r)).toBe('GW_LOG_UNAVAILABLE');
          first = i;
        } else {
          expect(r.status).toBe(200);
          await sleep(50);
        }
      }
      expect(first).toBeDefined();
      // Each request is a new connection, dealt round robin: both workers answer these.
      const refused = [];
      for (let i = 0; i < 10; i++) refused.push(await call());
      for (const r of refused) {
        expect({ status: r.status, code: code(r) }).toEqual({ status: 503, code: 'GW_LOG_UNAVAILABLE' });
        expect(upstream.received.some((x) => x.url === r.path)).toBe(false);
      }

      pg.start();
      await waitFor(async () => (await call()).status === 200, 20_000);
      // Back: every request made has exactly one row, the refused ones included.
      const dbName = new URL(url).pathname.slice(1);
      const logged = (): string[] => pg.superSql(`SELECT path FROM network_log WHERE path LIKE '/echo/workers-%'`, dbName).trim().split('\n').filter((l) => l !== '');
      await waitFor(async () => logged().length >= paths.length, 10_000);
      expect(logged().sort()).toEqual([...paths].sort());
      for (const text of [g.stdout(), g.stderr(), ...refused.map((r) => r.body)]) expect(text).not.toContain(PLANTED);
    } finally {
      await g.stop();
      removeHome(g.home);
    }
  }, 90_000);
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await sleep(100);
  }
}
