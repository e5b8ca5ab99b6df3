import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plant, startAdv, type Adv, type Planted } from './setup.js';
import { connectRaw, dial, expectProblem, httpReq, lastRowId, once, tunnel, waitRow, type Wire } from './wire.js';

// Class 6 — resources: deadlines, size limits and per-sandbox bounds hold, and the gateway keeps
// serving another sandbox while one floods it.

const FLOOD_NAMES = Array.from({ length: 150 }, (_, i) => `h${i}-${Math.random().toString(36).slice(2, 8)}.flood.standin.test`);

let slow: Adv; // short deadlines
let ps: Planted;
let big: Adv; // default deadlines, 100 connections per sandbox
let pb: Planted;

beforeAll(async () => {
  slow = await startAdv({ limits: { headMs: 800, handshakeMs: 800, firstRequestMs: 800, idleMs: 1_000 } });
  ps = plant(slow);
  big = await startAdv({ limits: { connectionsPerSandbox: 100 }, resolve: Object.fromEntries(FLOOD_NAMES.map((n) => [n, '127.0.0.1'])) });
  pb = plant(big);
  for (const name of ['flood1', 'flood2']) big.store.createSandbox({ name, allowHosts: [], bindings: [], actor: 'adv' });
});

afterAll(async () => {
  await slow.close();
  await big.close();
});

/** One request as beta; its status and how long it took. */
async function betaPing(on: Adv, p: Planted): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const res = await once(on, p.api, 'beta', httpReq('GET', '/echo?ping=1', p.api, [['Authorization', `Bearer ${p.beta.bearer}`]]));
  return { status: res.status, ms: Date.now() - started };
}

describe('size limits', () => {
  it('a 20 KB header on the CONNECT head: refused with a problem, logged before authentication', async () => {
    const mark = lastRowId(slow);
    const w = await dial(slow.gw);
    w.write(`CONNECT ${ps.api} HTTP/1.1\r\nHost: ${ps.api}\r\nX-Pad: ${'a'.repeat(20_000)}\r\nProxy-Authorization: ${slow.auth('alpha')}\r\n\r\n`);
    const res = await w.response();
    w.socket.destroy();
    expect([400, 431]).toContain(res.status);
    const row = await expectProblem(slow, res, res.status, JSON.parse(res.text).code as string);
    expect(row.id).toBeGreaterThan(mark);
    expect(row).toMatchObject({ sandbox: null, method: 'INVALID' });
  });

  it('a 20 KB header inside a tunnel: refused with a problem, logged for the sandbox, nothing forwarded', async () => {
    const before = slow.upstreamCount();
    const t = await tunnel(slow, ps.api, slow.auth('alpha'));
    t.wire.write(httpReq('GET', '/echo', ps.api, [['X-Pad', 'b'.repeat(20_000)], ['Authorization', `Bearer ${ps.alpha.bearer}`]]));
    const res = await t.wire.response();
    t.close();
    const row = await expectProblem(slow, res, res.status, JSON.parse(res.text).code as string);
    expect([400, 431]).toContain(res.status);
    expect(row).toMatchObject({ sandbox: 'alpha', method: 'INVALID' });
    expect(slow.upstreamCount()).toBe(before);
  });
});

describe('slow clients', () => {
  async function dripUntilClosed(w: Wire, line: () => string, limitMs: number): Promise<number> {
    const started = Date.now();
    const timer = setInterval(() => w.write(line()), 100);
    const closed = await w.closedWithin(limitMs);
    clearInterval(timer);
    w.socket.destroy();
    expect(closed, `still open after ${limitMs} ms of dripping`).toBe(true);
    return Date.now() - started;
  }

  it('slowloris on the CONNECT head (outer server): closed by the head deadline and logged', async () => {
    const mark = lastRowId(slow);
    const w = await dial(slow.gw);
    w.write(`CONNECT ${ps.api} HTTP/1.1\r\n`);
    await dripUntilClosed(w, () => `X-Drip-${Date.now()}: 1\r\n`, 4_000);
    const row = await waitRow(slow, mark, (r) => r.errorCode === 'GW_TIMEOUT' || r.errorCode === 'GW_BAD_REQUEST');
    expect(row.sandbox).toBeNull();
  });

  it('slowloris on the TLS handshake inside an accepted CONNECT: cut by the handshake deadline, and logged', async () => {
    const mark = lastRowId(slow);
    const { res, wire } = await connectRaw(slow.gw, ps.api, slow.auth('alpha'));
    expect(res.status).toBe(200);
    wire.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // a ClientHello record that never completes
    await dripUntilClosed(wire, () => '\u0000', 4_000);
    const row = await waitRow(slow, mark, (r) => r.method === 'CONNECT' && r.sandbox === 'alpha');
    expect(row.errorCode).toMatch(/GW_TLS_HANDSHAKE|GW_TIMEOUT/);
  });

  it('slowloris on the second request head of a keep-alive tunnel: cut by the head deadline, not kept for the keep-alive time', async () => {
    const t = await tunnel(slow, ps.api, slow.auth('alpha'));
    t.wire.write(httpReq('GET', '/echo', ps.api));
    expect((await t.wire.response()).status).toBe(200);
    t.wire.write('GET /echo HTTP/1.1\r\n');
    // headMs is 800 ms here: a dripped head must not live for tens of seconds.
    await dripUntilClosed(t.wire, () => `X-Drip-${Date.now()}: 1\r\n`, 4_000);
  });

  it('an idle tunnel after a response is closed by the idle deadline', async () => {
    const t = await tunnel(slow, ps.api, slow.auth('alpha'));
    t.wire.write(httpReq('GET', '/echo', ps.api));
    expect((await t.wire.response()).status).toBe(200);
    const started = Date.now();
    expect(await t.wire.closedWithin(4_000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(4_000);
    t.close();
  });

  it('a tunnel that goes silent right after the TLS handshake is closed by the first-request deadline', async () => {
    const t = await tunnel(slow, ps.api, slow.auth('alpha'));
    const started = Date.now();
    expect(await t.wire.closedWithin(3_000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(3_000);
    t.close();
  });

  it('a slow body upload does not block another sandbox', async () => {
    const t = await tunnel(slow, ps.api, slow.auth('alpha'));
    t.wire.write(`POST /echo HTTP/1.1\r\nHost: ${ps.api}\r\nContent-Length: 100000\r\n\r\nx`);
    const ping = await betaPing(slow, ps);
    t.close();
    expect(ping.status).toBe(200);
    expect(ping.ms).toBeLessThan(1_000);
  });
});

describe('floods', () => {
  it('300 concurrent tunnels from one sandbox: capped with 429s (logged), another sandbox still served, capacity comes back', async () => {
    const mark = lastRowId(big);
    const started = Date.now();
    const attempts = await Promise.all(Array.from({ length: 300 }, () => connectRaw(big.gw, pb.api, big.auth('flood1'))));
    const during = await betaPing(big, pb);
    const statuses = attempts.map((x) => x.res.status);
    const ok = statuses.filter((s) => s === 200).length;
    const limited = attempts.filter((x) => x.res.status === 429);
    expect(ok).toBe(100);
    expect(limited).toHaveLength(200);
    await expectProblem(big, limited[0]!.res, 429, 'GW_TOO_MANY_CONNECTIONS');
    expect(during.status).toBe(200);
    expect(during.ms).toBeLessThan(2_000);
    for (const x of attempts) x.wire.socket.destroy();
    expect(Date.now() - started).toBeLessThan(15_000);
    const rows = big.rows().filter((r) => r.id > mark && r.errorCode === 'GW_TOO_MANY_CONNECTIONS');
    expect(rows.length).toBe(200);
    // Tunnels the client closed give their slots back promptly (not only when a setup deadline fires).
    const deadline = Date.now() + 3_000;
    let back = 0;
    while (Date.now() < deadline) {
      const x = await connectRaw(big.gw, pb.api, big.auth('flood1'));
      x.wire.socket.destroy();
      back = x.res.status;
      if (back === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(back, 'status of a new CONNECT 3 s after the 300 flood sockets were closed').toBe(200);
  }, 30_000);

  it('certificate-cache flood: 300 distinct hosts (names and public IP literals) while another sandbox is served', async () => {
    const targets = [...FLOOD_NAMES.map((n) => `${n}:${pb.port}`), ...Array.from({ length: 150 }, (_, i) => `8.${8 + (i >> 8)}.${i & 255}.1:443`)];
    const started = Date.now();
    const pings: Promise<{ status: number; ms: number }>[] = [];
    let accepted = 0;
    for (let i = 0; i < targets.length; i += 30) {
      const batch = await Promise.all(targets.slice(i, i + 30).map((t) => connectRaw(big.gw, t, big.auth('flood2'))));
      // A non-TLS byte ends each tunnel at once on the gateway's side too (a bare close before the
      // handshake holds the sandbox's slot until the setup deadline: see the flood case above).
      await Promise.all(
        batch.map(async (x) => {
          if (x.res.status === 200) accepted++;
          x.wire.write('\r\n\r\n\r\n');
          await x.wire.closedWithin(2_000);
          x.wire.socket.destroy();
        }),
      );
      if (i % 90 === 0) pings.push(betaPing(big, pb));
    }
    const results = await Promise.all(pings);
    expect(accepted).toBe(300);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(2_000);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  it('four concurrent decompression bombs: each cut, another sandbox still served quickly', async () => {
    const lab = `api.standin.test:${big.lab.port}`;
    const mark = lastRowId(big);
    const bombs = Array.from({ length: 4 }, async () => {
      const t = await tunnel(big, lab, big.auth('alpha'));
      t.wire.write(httpReq('GET', '/bomb?coding=gzip', lab, [['Authorization', `Bearer ${pb.alpha.lab}`], ['Accept-Encoding', 'gzip']]));
      const closed = await t.wire.closedWithin(20_000);
      t.close();
      return closed;
    });
    await new Promise((r) => setTimeout(r, 50));
    const ping = await betaPing(big, pb);
    expect(await Promise.all(bombs)).toEqual([true, true, true, true]);
    expect(ping.status).toBe(200);
    expect(ping.ms).toBeLessThan(3_000);
    const rows = big.rows().filter((r) => r.id > mark && r.path.startsWith('/bomb'));
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.errorCode === 'GW_UPSTREAM_PROTOCOL')).toBe(true);
  }, 30_000);

  it('300 pipelined requests in one write are all answered in order and each logged', async () => {
    const mark = lastRowId(big);
    const t = await tunnel(big, pb.api, big.auth('alpha'));
    let all = '';
    for (let i = 0; i < 300; i++) all += httpReq('GET', `/bytes?n=${i % 7}`, pb.api);
    t.wire.write(all);
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) statuses.push((await t.wire.response({ timeoutMs: 10_000 })).status);
    t.close();
    expect(statuses).toEqual(Array(300).fill(200));
    await waitRow(big, mark, () => big.rows().filter((r) => r.id > mark && r.path.startsWith('/bytes')).length >= 300, 3_000);
  }, 30_000);
});
