import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viaProxy, type Reply } from '../helpers/client.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { removeHome, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// A fleet: two `standin serve` processes on one PostgreSQL database, each with its own home, the
// master key given to both in STANDIN_MASTER_KEY. A secret created through gateway A's CLI is used
// by a sandbox connected to gateway B, and every revocation made through A reaches B within 1 s,
// while B is under load.
const PLANTED = `sk-PLANTED-fleet-${randomBytes(6).toString('hex')}`;
const ROTATED = `sk-PLANTED-fleet-rotated-${randomBytes(6).toString('hex')}`;
const HOST = 'api.standin.test';

let pg: PgCluster;
let upstream: Upstream;
let a: ServeProcess;
let b: ServeProcess;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  pg = await startPostgres();
  upstream = await startUpstream();
  env = { STANDIN_DATABASE_URL: pg.createDatabase(), STANDIN_MASTER_KEY: randomBytes(32).toString('base64') };
  // Started together: both migrate the same empty database at once.
  [a, b] = await Promise.all([startServe(upstream.port, [HOST], [], undefined, env), startServe(upstream.port, [HOST], [], undefined, env)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await upstream?.close();
  pg?.destroy();
  for (const g of [a, b]) if (g !== undefined) removeHome(g.home);
});

const ok = (g: ServeProcess, args: string[], input?: string): string => {
  const r = g.cli(args, input);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
};

/** The sandbox's proxy URL pointed at gateway `g`; the CA is the one gateway A's home handed out. */
function through(g: ServeProcess, proxyUrl: string): { proxy: string; ca: string } {
  return { proxy: proxyUrl.replace(/@[^@]+$/, `@${g.proxy}`), ca: readFileSync(join(a.home, 'ca', 'ca.pem'), 'utf8') };
}

// A refused CONNECT (407 for a deleted sandbox) is an agent error: reported as its status.
function send(via: { proxy: string; ca: string }, token: string, path = '/echo'): Promise<Reply> {
  return viaProxy(via.proxy, via.ca, `https://${HOST}:${upstream.port}${path}`, { headers: { authorization: `Bearer ${token}` } }).catch((e: unknown) => {
    const m = /Bad response: (\d+)/.exec(e instanceof Error ? e.message : '');
    if (m === null) throw e;
    return { status: Number(m[1]), headers: {}, body: '' };
  });
}

/** Polls until `done(reply)` or the deadline; returns how long it took. */
async function until(via: { proxy: string; ca: string }, token: string, done: (r: Reply) => boolean, deadlineMs = 3_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    const r = await send(via, token).catch(() => undefined);
    if (r !== undefined && done(r)) return Date.now() - start;
    if (Date.now() - start > deadlineMs) throw new Error(`not seen within ${deadlineMs} ms (last status ${r?.status})`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** Requests through `via` back to back until stopped (bounded): the load the changes land under. */
function load(via: { proxy: string; ca: string }, token: string): { stop(): Promise<number> } {
  let running = true;
  let count = 0;
  const loop = (async () => {
    for (let i = 0; running && i < 5_000; i++) {
      await send(via, token, `/echo/load-${i}`).catch(() => undefined);
      count++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return count;
    },
  };
}

const applied = (value: string) => (r: Reply): boolean => r.status === 200 && upstream.received.at(-1)?.headers.authorization === `Bearer ${value}`;

describe('two gateways on one PostgreSQL', () => {
  let token: string;
  let proxyUrl: string;

  it('both gateways mint under the one fleet CA, kept in the database (no CA key in either home)', () => {
    expect(readFileSync(join(b.home, 'ca', 'ca.pem'), 'utf8')).toBe(readFileSync(join(a.home, 'ca', 'ca.pem'), 'utf8'));
    for (const g of [a, b]) expect(existsSync(join(g.home, 'ca', 'ca-key.pem'))).toBe(false);
    const row = pg.superSql('SELECT length(key_enc) > 0, position(convert_to(\'PRIVATE KEY\', \'UTF8\') in key_enc) FROM certificate_authority', new URL(String(env.STANDIN_DATABASE_URL)).pathname.slice(1));
    expect(row.trim()).toBe('t|0');
  });

  it('a secret created through A is swapped for a sandbox on B', async () => {
    ok(a, ['secret', 'create', 'fleet', '--hosts', `${HOST}:${upstream.port}`, '--value-stdin'], PLANTED);
    const e = JSON.parse(ok(a, ['sandbox', 'create', 'agent', '--bind', 'K=fleet', '--proxy', a.proxy, '--json'])) as { env: Record<string, string> };
    token = e.env['K'] ?? '';
    proxyUrl = e.env['HTTPS_PROXY'] ?? '';
    await until(through(b, proxyUrl), token, applied(PLANTED), 2_000);
    const r = await send(through(b, proxyUrl), token);
    expect(r.status).toBe(200);
    expect(upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${PLANTED}`);
    expect(r.body).not.toContain(PLANTED);
    // B's own CLI sees the same store.
    expect(JSON.parse(ok(b, ['secret', 'list', '--json'])).map((s: { name: string }) => s.name)).toEqual(['fleet']);
  });

  it('rotation through A applies on B within 1 s, under load', async () => {
    const l = load(through(b, proxyUrl), token);
    ok(a, ['secret', 'rotate', 'fleet', '--value-stdin'], ROTATED);
    const ms = await until(through(b, proxyUrl), token, applied(ROTATED));
    const n = await l.stop();
    expect(n).toBeGreaterThan(0);
    expect(ms).toBeLessThan(1_000);
    // Usage counts come from the fleet's log: B's swaps, seen through A's CLI, per version.
    let usage: { swapped: number; versions: { version: number; swapped: number }[] } = { swapped: 0, versions: [] };
    for (let i = 0; i < 50 && !usage.versions.some((v) => v.version === 2); i++) {
      usage = JSON.parse(ok(a, ['secret', 'usage', 'fleet', '--json'])) as typeof usage;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(usage.swapped).toBeGreaterThan(1);
    expect(usage.versions.map((v) => v.version).sort()).toEqual([1, 2]);
  });

  it('unbind through A stops the token on B within 1 s, under load', async () => {
    const l = load(through(b, proxyUrl), token);
    ok(a, ['sandbox', 'unbind', 'agent', 'K']);
    const ms = await until(through(b, proxyUrl), token, (r) => r.status === 403 && r.body.includes('GW_TOKEN_UNKNOWN'));
    await l.stop();
    expect(ms).toBeLessThan(1_000);
    // And it stays refused: no late update brings it back.
    for (let i = 0; i < 5; i++) expect((await send(through(b, proxyUrl), token)).status).toBe(403);
  });

  it('secret deletion and sandbox deletion through A apply on B within 1 s', async () => {
    const bound = JSON.parse(ok(a, ['sandbox', 'bind', 'agent', 'K2=fleet', '--json'])) as { token: string };
    await until(through(b, proxyUrl), bound.token, applied(ROTATED), 2_000);
    ok(a, ['secret', 'delete', 'fleet']);
    expect(await until(through(b, proxyUrl), bound.token, (r) => r.status === 403)).toBeLessThan(1_000);
    ok(a, ['sandbox', 'delete', 'agent']);
    expect(await until(through(b, proxyUrl), bound.token, (r) => r.status === 407)).toBeLessThan(1_000);
  });

  it('the network log is shared: A\'s CLI reads B\'s rows, each naming its gateway, and every chain verifies', async () => {
    const idOf = (g: ServeProcess): string => readFileSync(join(g.home, 'gateway-id'), 'utf8').trim();
    const [idA, idB] = [idOf(a), idOf(b)];
    expect(idA).not.toBe(idB);
    type Row = { gateway: string; decision: string; secrets: string[]; sandbox: string | null };
    let rows: Row[] = [];
    for (let i = 0; i < 50; i++) {
      rows = ok(a, ['log', '--sandbox', 'agent', '--limit', '10000', '--json']).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Row);
      if (rows.some((r) => r.gateway === idB && r.decision === 'swapped')) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(rows.some((r) => r.gateway === idB && r.decision === 'swapped' && r.secrets.includes('fleet@1'))).toBe(true);
    expect(new Set(rows.map((r) => r.gateway)).has(idB)).toBe(true);
    // Written to PostgreSQL, not to either home's SQLite file.
    const dbName = new URL(String(env.STANDIN_DATABASE_URL)).pathname.slice(1);
    expect(Number(pg.superSql(`SELECT count(*) FROM network_log WHERE gateway = '${idB}'`, dbName).trim())).toBeGreaterThan(0);
    // B's CLI sees the same log, and the stats agree with the rows.
    const stats = JSON.parse(ok(b, ['log', 'stats', '--sandbox', 'agent', '--json'])) as { total: { requests: number } };
    expect(stats.total.requests).toBeGreaterThan(0);
    const verify = ok(a, ['log', 'verify']);
    expect(verify).toMatch(/ok|verified/i);
    expect(JSON.stringify(rows) + verify).not.toContain(PLANTED);
  });

  it('a gateway stops cleanly (exit 0, nothing but its own lines on stderr)', async () => {
    expect(await b.stop()).toBe(0);
    expect(b.stderr()).not.toContain('internal error');
  });

  it('no value in any gateway output', () => {
    for (const g of [a, b]) {
      for (const text of [g.stdout(), g.stderr()]) {
        expect(text).not.toContain(PLANTED);
        expect(text).not.toContain(ROTATED);
      }
    }
  });
});
