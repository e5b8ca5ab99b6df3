import { constants } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameHeads, type FrameHead } from '../../src/proxy/h2-frames.js';
import { H2_EVENT } from '../../src/proxy/h2-guard.js';
import { SecretValue } from '../../src/secret-value.js';
import { basicAuth, rawConnect } from '../helpers/client.js';
import { h2Request, h2Session } from '../helpers/h2-client.js';
import { startH2Upstream, type H2Upstream } from '../helpers/h2-upstream.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * HTTP/2 attacks from a hostile sandbox, each crafted frame by frame on a raw TLS socket: rapid
 * reset, CONTINUATION flood, HPACK bomb, too many concurrent streams, PING and SETTINGS floods, a
 * window that never opens, a stream that never ends. Each is bounded by a documented limit and
 * logged with a stable code, and another sandbox's request keeps working meanwhile.
 */

const REAL = 'sk-real-h2-adversarial-0123456789abcdef';
let h: Harness;
let up: H2Upstream;
let target: string;
let betaToken: string;
// Idle is measured in whole periods (a stream is cut after one to two of them with nothing moved).
const IDLE_MS = 1_000;
const MAX_MS = 4_000;

beforeAll(async () => {
  up = await startH2Upstream();
  h = await startHarness({ allowDest: [`127.0.0.1:${up.port}`], limits: { h2StreamIdleMs: IDLE_MS, h2StreamMaxMs: MAX_MS } });
  target = `api.standin.test:${up.port}`;
  h.store.createSecret({ name: 'key', scheme: { kind: 'bearer' }, hosts: [target], value: new SecretValue(REAL), actor: 't' });
  h.store.createSandbox({ name: 'mallory', allowHosts: [], bindings: [{ env: 'K', secretName: 'key' }], actor: 't' });
  betaToken = h.store.createSandbox({ name: 'beta', allowHosts: [], bindings: [{ env: 'K', secretName: 'key' }], actor: 't' }).bindings[0]?.token ?? '';
});

afterAll(async () => {
  await h.close();
  await up.close();
});

// --- a tiny HTTP/2 frame writer and HPACK encoder (static table, literals without indexing) ---

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

function hpackInt(n: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (n < max) return Buffer.from([first | n]);
  const out = [first | max];
  let rest = n - max;
  while (rest >= 128) {
    out.push((rest & 127) | 128);
    rest >>= 7;
  }
  out.push(rest);
  return Buffer.from(out);
}

function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  return Buffer.concat([Buffer.from([0]), hpackInt(n.length, 7), n, hpackInt(v.length, 7), v]);
}

/** GET (0x82) https (0x87) with a literal :path and :authority. */
function requestBlock(path: string): Buffer {
  return Buffer.concat([Buffer.from([0x82, 0x87]), literal(':path', path), literal(':authority', target)]);
}

const END_STREAM = 1;
const END_HEADERS = 4;
const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, CONTINUATION: 9 };
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

interface Raw {
  tls: TLSSocket;
  frames: FrameHead[];
  closed: Promise<void>;
}

/** A tunnel as `sandbox`, TLS with ALPN h2, the client preface and `settings` sent. */
async function rawH2(settings: Buffer = Buffer.alloc(0)): Promise<Raw> {
  const { head, socket } = await rawConnect(h.gateway.address.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${basicAuth('mallory', h.store.proxyKey('mallory'))}\r\n\r\n`);
  expect(head).toMatch(/^HTTP\/1.1 200/);
  const tls = await new Promise<TLSSocket>((resolve, reject) => {
    const t = tlsConnect({ socket, servername: 'api.standin.test', ca: h.caPem, ALPNProtocols: ['h2'] }, () => resolve(t));
    t.once('error', reject);
  });
  expect(tls.alpnProtocol).toBe('h2');
  const frames: FrameHead[] = [];
  const reader = new FrameHeads((f) => frames.push(f));
  tls.on('data', (d: Buffer) => reader.push(d));
  tls.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => tls.once('close', () => resolve()));
  tls.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0, settings)]));
  return { tls, frames, closed };
}

/** Writes in slices, as fast as the socket takes them, until it closes or `bytes` are sent. */
async function flood(tls: TLSSocket, make: (i: number) => Buffer, count: number): Promise<void> {
  for (let i = 0; i < count && !tls.destroyed; ) {
    const batch: Buffer[] = [];
    for (let j = 0; j < 500 && i < count; j++, i++) batch.push(make(i));
    if (!tls.write(Buffer.concat(batch))) await new Promise<void>((r) => tls.once('drain', () => r()).once('close', () => r()));
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

/** Another sandbox's ordinary request, swapped and answered: the attack did not reach it. */
async function betaStillServed(): Promise<void> {
  const s = await h2Session(h.gateway.address.port, target, 'beta', h.store.proxyKey('beta'), h.caPem);
  try {
    const r = await within(h2Request(s, { ':method': 'GET', ':path': '/echo', authorization: `Bearer ${betaToken}` }), 3_000, 'beta');
    expect(r.headers[':status']).toBe(200);
    expect(r.body).not.toContain(REAL);
  } finally {
    s.close();
  }
}

async function waitFor(cond: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function logged(code: string, ms = 3_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = h
      .logs()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.code === code);
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`no log line with code ${code}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('HTTP/2 attacks: bounded, logged, and no other sandbox disturbed', () => {
  it('rapid reset (CVE-2023-44487): the reset budget (burst 200, 100/s) ends the connection', async () => {
    const raw = await rawH2();
    const attack = flood(raw.tls, (i) => Buffer.concat([frame(T.HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, requestBlock('/echo')), frame(T.RST_STREAM, 0, 1 + 2 * i, Buffer.from([0, 0, 0, 8]))]), 20_000);
    await betaStillServed();
    await within(raw.closed, 5_000, 'connection close');
    await attack;
    const line = await logged(H2_EVENT.RAPID_RESET);
    expect(line).toMatchObject({ sandbox: 'mallory', level: 40 });
    expect(raw.frames.some((f) => f.type === 7 && f.errorCode === constants.NGHTTP2_ENHANCE_YOUR_CALM)).toBe(true);
    await betaStillServed();
  });

  it('CONTINUATION flood (CVE-2024-27316): more than 16 CONTINUATION frames end the connection', async () => {
    const raw = await rawH2();
    raw.tls.write(frame(T.HEADERS, END_STREAM, 1, requestBlock('/echo')));
    await flood(raw.tls, (i) => frame(T.CONTINUATION, 0, 1, literal(`x-c${i}`, 'v'.repeat(40))), 5_000);
    await within(raw.closed, 5_000, 'connection close');
    await logged(H2_EVENT.CONTINUATION_FLOOD);
    await betaStillServed();
  });

  it('HPACK bomb: a small block that expands past the 16 KiB header list limit is refused (ENHANCE_YOUR_CALM), never forwarded', async () => {
    const raw = await rawH2();
    // One 4 KiB entry added to the dynamic table, then referenced 3,000 times (one byte each).
    const entry = Buffer.concat([Buffer.from([0x40]), hpackInt(5, 7), Buffer.from('x-big'), hpackInt(4_000, 7), Buffer.alloc(4_000, 0x61)]);
    raw.tls.write(frame(T.HEADERS, END_STREAM | END_HEADERS, 1, Buffer.concat([requestBlock('/echo'), entry, Buffer.alloc(3_000, 0xbe)])));
    const line = await logged(H2_EVENT.STREAM_ERROR);
    expect(line.h2Error).toBe('ENHANCE_YOUR_CALM');
    await waitFor(() => raw.frames.some((f) => f.type === T.RST_STREAM && f.streamId === 1 && f.errorCode === constants.NGHTTP2_ENHANCE_YOUR_CALM));
    raw.tls.destroy();
    expect(up.received.some((e) => JSON.stringify(e.headers).includes('x-big'))).toBe(false);
    await betaStillServed();
  });

  it('too many concurrent streams: beyond 100 they are refused (REFUSED_STREAM), logged once', async () => {
    const raw = await rawH2();
    const resetsBefore = up.resets.length;
    raw.tls.write(Buffer.concat(Array.from({ length: 150 }, (_, i) => frame(T.HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, requestBlock('/hang')))));
    await logged(H2_EVENT.TOO_MANY_STREAMS);
    await new Promise((r) => setTimeout(r, 300));
    expect(raw.frames.filter((f) => f.type === T.RST_STREAM && f.errorCode === constants.NGHTTP2_REFUSED_STREAM).length).toBeGreaterThanOrEqual(50);
    await betaStillServed();
    raw.tls.destroy();
    // The accepted streams' upstream halves are cancelled when the sandbox goes away.
    const deadline = Date.now() + 3_000;
    while (up.resets.length - resetsBefore < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(up.resets.length - resetsBefore).toBe(100);
  });

  it('PING flood and SETTINGS flood: the control budget (burst 100, 20/s) ends the connection', async () => {
    for (const make of [(i: number) => frame(T.PING, 0, 0, Buffer.alloc(8, i & 0xff)), () => frame(T.SETTINGS, 0, 0)]) {
      const raw = await rawH2();
      await flood(raw.tls, make, 5_000);
      await within(raw.closed, 5_000, 'connection close');
      await betaStillServed();
    }
    await logged(H2_EVENT.CONTROL_FLOOD);
  });

  it('a window that never opens: buffering stays bounded, the stream is reset after the idle limit', async () => {
    const before = h.rows().length;
    // SETTINGS_INITIAL_WINDOW_SIZE = 0: the gateway may send no DATA on any stream.
    const raw = await rawH2(Buffer.from([0, 4, 0, 0, 0, 0]));
    const writtenBefore = up.flood.written;
    raw.tls.write(frame(T.HEADERS, END_STREAM | END_HEADERS, 1, requestBlock('/flood')));
    await new Promise((r) => setTimeout(r, 800));
    // The upstream is held back by its own window: what the gateway holds is bounded by it.
    expect(up.flood.blocked).toBe(true);
    expect(up.flood.written - writtenBefore).toBeLessThan(1024 * 1024);
    await betaStillServed();
    await logged(H2_EVENT.STREAM_IDLE, 2 * IDLE_MS + 2_000);
    await waitFor(() => raw.frames.some((f) => f.type === T.RST_STREAM && f.streamId === 1));
    expect(raw.frames.find((f) => f.type === T.RST_STREAM && f.streamId === 1)?.errorCode).toBe(constants.NGHTTP2_CANCEL);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.rows().slice(before).some((row) => row.path === '/flood' && row.errorCode === 'GW_TIMEOUT')).toBe(true);
    raw.tls.destroy();
  });

  it('a stream that never ends: trickling DATA keeps it active, the total limit resets it', async () => {
    const raw = await rawH2();
    raw.tls.write(frame(T.HEADERS, END_HEADERS, 1, Buffer.concat([Buffer.from([0x83, 0x87]), literal(':path', '/echo'), literal(':authority', target)])));
    const drip = setInterval(() => raw.tls.write(frame(T.DATA, 0, 1, Buffer.from('x'))), 300);
    try {
      await logged(H2_EVENT.STREAM_TOO_LONG, MAX_MS + 3_000);
      await waitFor(() => raw.frames.some((f) => f.type === T.RST_STREAM && f.streamId === 1 && f.errorCode === constants.NGHTTP2_CANCEL));
      await betaStillServed();
    } finally {
      clearInterval(drip);
      raw.tls.destroy();
    }
    expect(h.logs()).not.toContain(REAL);
  });
});
