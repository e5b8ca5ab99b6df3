import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viaProxy, type Reply } from '../helpers/client.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { CLI, removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Three `standin serve` processes on one PostgreSQL database (fleet-pg.test.ts has two). A secret
// created through A's CLI is used by sandboxes created on B and on C; a rotation made through B
// and an unbind made through C reach every gateway within 1 s while all three are under load.
// The CLI commands that make the changes run without blocking this process (runClient), so the
// load, the upstream and the observers keep running while they commit.
const PLANTED = `sk-PLANTED-three-${randomBytes(6).toString('hex')}`;
const ROTATED = `sk-PLANTED-three-rotated-${randomBytes(6).toString('hex')}`;
const HOST = 'api.standin.test';
const WITHIN_MS = 1_000;

let pg: PgCluster;
let upstream: Upstream;
let gws: ServeProcess[] = [];
let env: NodeJS.ProcessEnv;
let ca: string;

beforeAll(async () => {
  pg = await startPostgres();
  upstream = await startUpstream();
  env = { STANDIN_DATABASE_URL: pg.createDatabase(), STANDIN_MASTER_KEY: randomBytes(32).toString('base64') };
  // Started together: three gateways migrate the same empty database at once.
  gws = await Promise.all([0, 1, 2].map(() => startServe(upstream.port, [HOST], [], undefined, env)));
  ca = readFileSync(join(gws[0]?.home ?? '', 'ca', 'ca.pem'), 'utf8');
}, 120_000);

afterAll(async () => {
  await Promise.all(gws.map((g) => g.stop()));
  await upstream?.close();
  pg?.destroy();
  for (const g of gws) removeHome(g.home);
});

const gw = (i: number): ServeProcess => {
  const g = gws[i];
  if (g === undefined) throw new Error(`no gateway ${i}`);
  return g;
};

const ok = (g: ServeProcess, args: string[], input?: string): string => {
  const r = g.cli(args, input);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
};

/** The CLI of gateway `g` run without blocking this process; resolves when it has exited. */
async function cliAsync(g: ServeProcess, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await runClient(process.execPath, [CLI, ...args], { ...process.env, ...env, ...extraEnv, STANDIN_HOME: g.home }, 30_000);
  expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

interface Sandbox {
  name: string;
  token: string;
  proxyKeyUrl: string;
}

function sandboxOn(g: ServeProcess, name: string): Sandbox {
  const e = JSON.parse(ok(g, ['sandbox', 'create', name, '--bind', 'K=fleet', '--proxy', g.proxy, '--json'])) as { env: Record<string, string> };
  return { name, token: e.env['K'] ?? '', proxyKeyUrl: e.env['HTTPS_PROXY'] ?? '' };
}

interface Seen {
  status: number;
  body: string;
  /** The Authorization the upstream got for this very request (matched by its unique path). */
  applied: string | undefined;
}

/** One request of `sb` through gateway `g`; a refused CONNECT (407) is reported as its status. */
async function send(g: ServeProcess, sb: Sandbox, tag = 'probe'): Promise<Seen> {
  const path = `/echo/${tag}-${randomUUID()}`;
  const proxy = sb.proxyKeyUrl.replace(/@[^@]+$/, `@${g.proxy}`);
  const r: Reply = await viaProxy(proxy, ca, `https://${HOST}:${upstream.port}${path}`, { headers: { authorization: `Bearer ${sb.token}` } }).catch((e: unknown) => {
    const m = /Bad response: (\d+)/.exec(e instanceof Error ? e.message : '');
    if (m === null) throw e;
    return { status: Number(m[1]), headers: {}, body: '' };
  });
  const got = upstream.received.find((x) => x.url === path)?.headers.authorization;
  return { status: r.status, body: r.body, applied: typeof got === 'string' ? got : undefined };
}

/** Requests back to back through each gateway until stopped (bounded in count): the load. */
function loadOnAll(sbs: readonly Sandbox[]): { stop(): Promise<number[]>; bodies: string[] } {
  let running = true;
  const bodies: string[] = [];
  const counts = gws.map(() => 0);
  const loops = gws.map(async (g, i) => {
    for (let n = 0; running && n < 3_000; n++) {
      const r = await send(g, sbs[(i + n) % sbs.length] ?? sbs[0]!, 'load').catch(() => undefined);
      if (r !== undefined) bodies.push(r.body);
      counts[i] = (counts[i] ?? 0) + 1;
    }
  });
  return {
    bodies,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}

/**
 * Watches every gateway from now on until `done` holds there (bounded); resolves with the time
 * each first saw it. Started before the command that makes the change, so nothing is missed.
 */
function watchAll(sb: Sandbox, done: (s: Seen) => boolean, deadlineMs = 10_000): Promise<number[]> {
  const start = Date.now();
  return Promise.all(
    gws.map(async (g) => {
      for (;;) {
        const s = await send(g, sb).catch(() => undefined);
        if (s !== undefined && done(s)) return Date.now();
        if (Date.now() - start > deadlineMs) throw new Error(`not seen on ${g.proxy} within ${deadlineMs} ms`);
        await new Promise((res) => setTimeout(res, 10));
      }
    }),
  );
}

describe('three gateways on one PostgreSQL', () => {
  let onB: Sandbox;
  let onC: Sandbox;
  const responses: string[] = [];

  it('a secret created through A is swapped for sandboxes created on B and on C, through every gateway', async () => {
    ok(gw(0), ['secret', 'create', 'fleet', '--hosts', `${HOST}:${upstream.port}`, '--value-stdin'], PLANTED);
    onB = sandboxOn(gw(1), 'on-b');
    onC = sandboxOn(gw(2), 'on-c');
    for (const sb of [onB, onC]) {
      await watchAll(sb, (s) => s.status === 200 && s.applied === `Bearer ${PLANTED}`, 3_000);
      for (const g of gws) {
        const s = await send(g, sb);
        expect(s.status).toBe(200);
        expect(s.applied).toBe(`Bearer ${PLANTED}`);
        responses.push(s.body);
      }
    }
    // Every gateway's CLI sees the one store.
    for (const g of gws) expect(JSON.parse(ok(g, ['sandbox', 'list', '--json'])).map((s: { name: string }) => s.name).sort()).toEqual(['on-b', 'on-c']);
  });

  it('a rotation made through B applies on A, B and C within 1 s, all three under load', async () => {
    const load = loadOnAll([onB, onC]);
    await new Promise((res) => setTimeout(res, 300));
    const seen = watchAll(onC, (s) => s.status === 200 && s.applied === `Bearer ${ROTATED}`);
    await cliAsync(gw(1), ['secret', 'rotate', 'fleet', '--value-env', 'NEW_VALUE'], { NEW_VALUE: ROTATED });
    const committed = Date.now();
    const at = await seen;
    const counts = await load.stop();
    responses.push(...load.bodies);
    for (const t of at) expect(t - committed).toBeLessThan(WITHIN_MS);
    // Each gateway really was under load while the change landed.
    for (const n of counts) expect(n).toBeGreaterThan(3);
    // And no gateway goes back to the old value afterwards.
    for (const g of gws) expect((await send(g, onB)).applied).toBe(`Bearer ${ROTATED}`);
  });

  it('an unbind made through C stops the token on A, B and C within 1 s, all three under load', async () => {
    const load = loadOnAll([onC]);
    await new Promise((res) => setTimeout(res, 300));
    const seen = watchAll(onB, (s) => s.status === 403 && s.body.includes('GW_TOKEN_UNKNOWN'));
    await cliAsync(gw(2), ['sandbox', 'unbind', 'on-b', 'K']);
    const committed = Date.now();
    const at = await seen;
    const counts = await load.stop();
    responses.push(...load.bodies);
    for (const t of at) expect(t - committed).toBeLessThan(WITHIN_MS);
    for (const n of counts) expect(n).toBeGreaterThan(3);
    // It stays refused everywhere, and the sandbox on C keeps its binding.
    for (const g of gws) {
      const s = await send(g, onB);
      expect(s.status).toBe(403);
      expect(s.applied).toBeUndefined();
      expect((await send(g, onC)).applied).toBe(`Bearer ${ROTATED}`);
    }
  });

  it('the shared log holds rows of all three gateways, each chain verifies, and no value shows anywhere', async () => {
    const ids = gws.map((g) => readFileSync(join(g.home, 'gateway-id'), 'utf8').trim());
    expect(new Set(ids).size).toBe(3);
    const dbName = new URL(String(env.STANDIN_DATABASE_URL)).pathname.slice(1);
    const byGateway = new Map(
      pg
        .superSql('SELECT gateway, count(*) FROM network_log GROUP BY gateway', dbName)
        .trim()
        .split('\n')
        .map((l) => l.split('|') as [string, string]),
    );
    for (const id of ids) expect(Number(byGateway.get(id) ?? 0)).toBeGreaterThan(0);
    expect(ok(gw(1), ['log', 'verify'])).toMatch(/ok|verified/i);
    const logText = ok(gw(0), ['log', '--limit', '100000', '--json']);
    for (const text of [...responses, logText, ...gws.flatMap((g) => [g.stdout(), g.stderr()])]) {
      expect(text).not.toContain(PLANTED);
      expect(text).not.toContain(ROTATED);
    }
  });
});
