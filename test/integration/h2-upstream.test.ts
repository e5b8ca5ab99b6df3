import { constants } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { openTunnel, basicAuth, rawExchange } from '../helpers/client.js';
import { h2Request, h2Session } from '../helpers/h2-client.js';
import { startH2Upstream, type H2Upstream } from '../helpers/h2-upstream.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * HTTP/2 upstream: the gateway selects h2 by ALPN with the upstream (pinned as for HTTP/1.1),
 * shares a session among one sandbox's streams and never between sandboxes, maps HTTP/1.1
 * requests onto h2 streams, relays trailers and RST_STREAM both ways, and keeps flow control.
 */

const REAL = 'sk-real-h2up-0123456789abcdefREALSECRET';
let h: Harness;
let up: H2Upstream;
let target: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  up = await startH2Upstream();
  h = await startHarness({ allowDest: [`127.0.0.1:${up.port}`] });
  target = `api.standin.test:${up.port}`;
  h.store.createSecret({ name: 'key', scheme: { kind: 'bearer' }, hosts: [target], value: new SecretValue(REAL), actor: 't' });
  for (const name of ['alpha', 'beta']) {
    tokens[name] = h.store.createSandbox({ name, allowHosts: [], bindings: [{ env: 'K', secretName: 'key' }], actor: 't' }).bindings[0]?.token ?? '';
  }
});

afterAll(async () => {
  await h.close();
  await up.close();
});

const session = (sandbox = 'alpha') => h2Session(h.gateway.address.port, target, sandbox, h.store.proxyKey(sandbox), h.caPem);

function expectClean(...texts: string[]): void {
  for (const t of texts) expect(t).not.toContain(REAL);
  expect(JSON.stringify(h.rows())).not.toContain(REAL);
  expect(h.logs()).not.toContain(REAL);
}

describe('HTTP/2 upstream', () => {
  it('h2 to h2: swapped, sent as HTTP/2 with :authority the target, a row per stream', async () => {
    const s = await session();
    try {
      const before = h.rows().length;
      const r = await h2Request(s, { ':method': 'POST', ':path': '/echo?q=1', authorization: `Bearer ${tokens.alpha}`, 'content-type': 'text/plain' }, 'hello');
      expect(r.headers[':status']).toBe(200);
      expect(r.headers['x-standin-request-id']).toMatch(/.+/);
      const echo = up.received.at(-1);
      expect(echo?.httpVersion).toBe('2.0');
      expect(echo?.headers[':authority']).toBe(target);
      expect(echo?.headers[':path']).toBe('/echo?q=1');
      expect(echo?.headers.authorization).toBe(`Bearer ${REAL}`);
      expect(echo?.body).toBe('hello');
      expect(r.body).not.toContain(REAL);
      await new Promise((res) => setTimeout(res, 60));
      const rows = h.rows().slice(before);
      expect(rows.filter((row) => row.decision === 'swapped' && row.complete !== false)).toHaveLength(1);
      expectClean(r.body, JSON.stringify(r.headers));
    } finally {
      s.close();
    }
  });

  it('streams of one sandbox share an upstream session; two sandboxes never share one', async () => {
    const [a, b] = await Promise.all([session('alpha'), session('beta')]);
    try {
      const send = (s: typeof a, name: string) =>
        Promise.all(Array.from({ length: 6 }, (_, i) => h2Request(s, { ':method': 'GET', ':path': `/echo?who=${name}&i=${i}`, authorization: `Bearer ${tokens[name]}` })));
      await Promise.all([send(a, 'alpha'), send(b, 'beta')]);
      const conn = (name: string) => new Set(up.received.filter((e) => String(e.headers[':path']).includes(`who=${name}`)).map((e) => e.connection));
      expect(conn('alpha').size).toBe(1);
      expect(conn('beta').size).toBe(1);
      expect([...conn('alpha')][0]).not.toBe([...conn('beta')][0]);
    } finally {
      a.close();
      b.close();
    }
  });

  it('an HTTP/1.1 request goes out as an h2 stream without its connection-specific fields', async () => {
    const tls = await openTunnel(h.gateway.address.port, target, basicAuth('alpha', h.store.proxyKey('alpha')), h.caPem, 'api.standin.test');
    const reply = await rawExchange(
      tls,
      `GET /echo HTTP/1.1\r\nHost: ${target}\r\nAuthorization: Bearer ${tokens.alpha}\r\nConnection: keep-alive, x-hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nTE: trailers\r\nProxy-Foo: bar\r\nX-Kept: yes\r\n\r\n`,
      500,
    );
    tls.destroy();
    expect(reply).toMatch(/^HTTP\/1.1 200/);
    const echo = up.received.at(-1);
    expect(echo?.httpVersion).toBe('2.0');
    expect(echo?.headers.authorization).toBe(`Bearer ${REAL}`);
    expect(echo?.headers['x-kept']).toBe('yes');
    for (const gone of ['connection', 'keep-alive', 'x-hop', 'proxy-foo', 'host', 'te', 'transfer-encoding']) expect(echo?.headers[gone]).toBeUndefined();
    expectClean(reply);
  });

  it('trailers both ways; the value is scrubbed from DATA, headers and trailers, gzip too', async () => {
    const s = await session();
    try {
      const t = await h2Request(s, { ':method': 'POST', ':path': '/trailers' }, 'body', { 'x-request-trailer': 'from-sandbox' });
      expect(t.trailers['x-checksum']).toBe('abc123');
      expect(t.trailers['x-got-trailer']).toBe('from-sandbox');
      const r = await h2Request(s, { ':method': 'GET', ':path': '/reflect', authorization: `Bearer ${tokens.alpha}` });
      expect(up.received.at(-1)?.headers.authorization).toBe(`Bearer ${REAL}`);
      expect(r.body).toBe(`you sent Bearer ${tokens.alpha} ok`);
      expect(r.headers['x-echo']).toBe(`Bearer ${tokens.alpha}`);
      expect(r.trailers['x-trailer-echo']).toBe(`Bearer ${tokens.alpha}`);
      expect(r.trailers['grpc-message']).toBe(`bad Bearer ${tokens.alpha}`);
      const g = await h2Request(s, { ':method': 'GET', ':path': '/gzip', authorization: `Bearer ${tokens.alpha}`, 'accept-encoding': 'gzip' });
      expect(g.headers['content-encoding']).toBe('gzip');
      expectClean(r.body, JSON.stringify(r.headers), JSON.stringify(r.trailers), JSON.stringify(g.headers));
    } finally {
      s.close();
    }
  });

  it('RST_STREAM both ways: an upstream reset reaches the sandbox with its code; a sandbox cancel reaches the upstream', async () => {
    const s = await session();
    try {
      const open = s.request({ ':method': 'POST', ':path': '/reset' });
      open.on('error', () => undefined);
      open.write('still sending');
      const code = await new Promise<number>((res) => open.on('close', () => res(open.rstCode ?? -1)));
      expect(code).toBe(constants.NGHTTP2_REFUSED_STREAM);
      const resetsBefore = up.resets.length;
      const stream = s.request({ ':method': 'GET', ':path': '/hang' });
      stream.on('error', () => undefined);
      await new Promise((res) => setTimeout(res, 150));
      stream.close(constants.NGHTTP2_CANCEL);
      const deadline = Date.now() + 3_000;
      while (up.resets.length === resetsBefore && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(up.resets.slice(resetsBefore)).toContain(constants.NGHTTP2_CANCEL);
    } finally {
      s.close();
    }
  });

  it('a slow reader holds the upstream back: bytes in flight stay bounded by the windows', async () => {
    const s = await session();
    try {
      const stream = s.request({ ':method': 'GET', ':path': '/flood' });
      stream.on('error', () => undefined);
      let read = 0;
      stream.on('data', (c: Buffer) => {
        read += c.length;
        stream.pause();
      });
      await new Promise((res) => setTimeout(res, 1_000));
      // Both windows (64 KiB each by default) plus stream buffers: far below a runaway.
      expect(up.flood.blocked).toBe(true);
      expect(up.flood.written - read).toBeLessThan(1024 * 1024);
      const written = up.flood.written;
      await new Promise((res) => setTimeout(res, 300));
      expect(up.flood.written).toBe(written);
      stream.close(constants.NGHTTP2_CANCEL);
    } finally {
      s.close();
    }
  });
});
