import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viaProxy, type Reply } from '../helpers/client.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { removeHome, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// The database goes away under load: the gateway keeps swapping from its snapshot for the bound
// (`--db-stale-seconds 2`), then refuses swaps with GW_STORE_STALE (fail closed) and says so on
// /readyz and in the snapshot-age gauge; when PostgreSQL is back, swaps resume by themselves.
const PLANTED = `sk-PLANTED-outage-${randomBytes(6).toString('hex')}`;
const HOST = 'api.standin.test';
const BOUND_MS = 2_000;

let pg: PgCluster;
let upstream: Upstream;
let gw: ServeProcess;
let via: { proxy: string; ca: string };
let token: string;

beforeAll(async () => {
  pg = await startPostgres();
  upstream = await startUpstream();
  const env = { STANDIN_DATABASE_URL: pg.createDatabase(), STANDIN_MASTER_KEY: randomBytes(32).toString('base64') };
  gw = await startServe(upstream.port, [HOST], ['--db-stale-seconds', String(BOUND_MS / 1000)], undefined, env);
  expect(gw.cli(['secret', 'create', 'svc', '--hosts', `${HOST}:${upstream.port}`, '--value-stdin'], PLANTED).code).toBe(0);
  const created = gw.cli(['sandbox', 'create', 'agent', '--bind', 'K=svc', '--json']);
  expect(created.code, created.stderr).toBe(0);
  const e = (JSON.parse(created.stdout) as { env: Record<string, string> }).env;
  token = e['K'] ?? '';
  via = { proxy: e['HTTPS_PROXY'] ?? '', ca: readFileSync(join(gw.home, 'ca', 'ca.pem'), 'utf8') };
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  pg?.destroy();
  if (gw !== undefined) removeHome(gw.home);
});

function send(): Promise<Reply> {
  return viaProxy(via.proxy, via.ca, `https://${HOST}:${upstream.port}/echo`, { headers: { authorization: `Bearer ${token}` } });
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

describe('PostgreSQL stopped and started under load', () => {
  it('serves from the snapshot for the bound, then refuses swaps, then recovers', async () => {
    await waitFor(async () => (await send()).status === 200, 5_000);
    expect((await control('/readyz')).status).toBe(200);

    // Load: requests back to back, each with when it was answered and whether it was swapped.
    const results: { at: number; status: number; swapped: boolean; code: string | undefined }[] = [];
    let running = true;
    const loop = (async () => {
      for (let i = 0; running && i < 20_000; i++) {
        const before = upstream.received.length;
        const r = await send().catch(() => undefined);
        if (r === undefined) continue;
        const got = upstream.received.slice(before).some((x) => x.headers.authorization === `Bearer ${PLANTED}`);
        results.push({ at: Date.now(), status: r.status, swapped: got, code: /"code":"([A-Z_]+)"/.exec(r.body)?.[1] });
      }
    })();
    await sleep(300);
    const stoppedAt = Date.now();
    pg.stop();
    await sleep(500);
    // Still serving from the snapshot, and saying the database is away.
    const duringText = (await control('/readyz')).body;
    const during = JSON.parse(duringText) as { database: boolean; stale: boolean };
    expect(during.database, duringText).toBe(false);
    await waitFor(async () => JSON.parse((await control('/readyz')).body).stale === true, BOUND_MS + 3_000);
    const stale = await control('/readyz');
    expect(stale.status).toBe(503);
    expect(JSON.parse(stale.body)).toMatchObject({ status: 'not ready', database: false, stale: true });
    const metrics = await control('/metrics');
    const age = Number(/^standin_store_snapshot_age_seconds (\S+)$/m.exec(metrics.body)?.[1] ?? '0');
    expect(age).toBeGreaterThan(BOUND_MS / 1000);
    await sleep(500);
    const refusedWindow = results.filter((r) => r.at > Date.now() - 400);
    expect(refusedWindow.length).toBeGreaterThan(0);
    expect(refusedWindow.every((r) => r.status === 503 && r.code === 'GW_STORE_STALE')).toBe(true);

    pg.start();
    const backAt = Date.now();
    await waitFor(async () => (await control('/readyz')).status === 200, 15_000);
    await waitFor(async () => results.at(-1)?.swapped === true, 5_000);
    running = false;
    await loop;

    // Served during the outage up to the bound; never a swap once past it (plus one poll of slack).
    const swappedDuringOutage = results.filter((r) => r.swapped && r.at > stoppedAt && r.at < backAt);
    expect(swappedDuringOutage.length).toBeGreaterThan(0);
    for (const r of swappedDuringOutage) expect(r.at - stoppedAt).toBeLessThan(BOUND_MS + 1_200);
    for (const r of results.filter((x) => !x.swapped && x.at < backAt && x.at > stoppedAt)) expect(r.code).toBe('GW_STORE_STALE');
    for (const text of [gw.stdout(), gw.stderr(), ...results.map(() => '')]) expect(text).not.toContain(PLANTED);
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
