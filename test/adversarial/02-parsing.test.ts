import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL, expectCleanEverywhere, plant, startAdv, type Adv, type Planted } from './setup.js';
import { expectProblem, expectRefused, httpReq, lastRowId, rowFor, statusesIn, tunnel, waitRow, type Res } from './wire.js';

// Class 2 — parsing and smuggling: every request that goes upstream was checked and logged on its own.

let a: Adv;
let p: Planted;

beforeAll(async () => {
  a = await startAdv({ limits: { headMs: 1_000, handshakeMs: 1_000, firstRequestMs: 1_000 } });
  p = plant(a);
});

afterAll(async () => {
  await a.close();
});

/** Raw bytes on a fresh tunnel to api; the first response, the tunnel closed afterwards. */
async function raw(bytes: string, authority = p.api): Promise<Res> {
  const t = await tunnel(a, authority, a.auth('alpha'));
  try {
    t.wire.write(bytes);
    return await t.wire.response();
  } finally {
    t.close();
  }
}

/** Malformed bytes that the parser must reject: 400 problem, row as INVALID for the sandbox. */
async function expectParserReject(bytes: string): Promise<void> {
  const { row } = await expectRefused(a, () => raw(bytes), 400, 'GW_BAD_REQUEST');
  expect(row).toMatchObject({ sandbox: 'alpha', host: 'api.standin.test', method: 'INVALID' });
}

describe('smuggling inside a tunnel', () => {
  it('two Transfer-Encoding headers hiding a second request: 400, nothing forwarded', async () => {
    await expectParserReject(
      `POST /echo HTTP/1.1\r\nHost: ${p.api}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 60\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: other.standin.test:${p.port}\r\nAuthorization: Bearer ${p.alpha.bearer}\r\n\r\n`,
    );
  });

  it('two different Content-Length headers: 400, nothing forwarded', async () => {
    await expectParserReject(`POST /echo HTTP/1.1\r\nHost: ${p.api}\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd`);
  });

  it('obs-fold continuation hiding a token: 400, nothing forwarded', async () => {
    await expectParserReject(`GET /echo HTTP/1.1\r\nHost: ${p.api}\r\nX-Note: hello\r\n Authorization: Bearer ${p.alpha.bearer}\r\n\r\n`);
  });

  it('space before the colon in a header name: 400', async () => {
    await expectParserReject(`GET /echo HTTP/1.1\r\nHost: ${p.api}\r\nAuthorization : Bearer ${p.alpha.bearer}\r\n\r\n`);
  });

  it('bare LF line endings: 400', async () => {
    await expectParserReject(`GET /echo HTTP/1.1\nHost: ${p.api}\nAuthorization: Bearer ${p.alpha.bearer}\n\n`);
  });

  it('a bare CR inside a header value: 400', async () => {
    await expectParserReject(`GET /echo HTTP/1.1\r\nHost: ${p.api}\r\nX-A: one\rAuthorization: Bearer ${p.alpha.bearer}\r\n\r\n`);
  });

  it('chunk-size garbage (TE.CL style): 400, nothing forwarded', async () => {
    await expectParserReject(`POST /echo HTTP/1.1\r\nHost: ${p.api}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /x HTTP/1.1\r\n\r\n`);
  });

  it('a request hidden in a Content-Length body is body, not a second request', async () => {
    const inner = `GET /smuggled HTTP/1.1\r\nHost: other.standin.test:${p.port}\r\nAuthorization: Bearer ${p.alpha.bearer}\r\n\r\n`;
    const before = a.upstream.received.length;
    const mark = lastRowId(a);
    const t = await tunnel(a, p.api, a.auth('alpha'));
    t.wire.write(httpReq('POST', '/echo?hidden=1', p.api, [['Content-Type', 'text/plain']], inner));
    const res = await t.wire.response();
    const second = await t.wire.closedWithin(200);
    t.close();
    expect(res.status).toBe(200);
    expect(second).toBe(false); // nothing else answered; the connection simply stays open
    expect(a.upstream.received.length).toBe(before + 1);
    expect(a.upstream.received[before]?.url).toBe('/echo?hidden=1');
    expect(a.upstream.received[before]?.body).toBe(inner);
    await waitRow(a, mark, (r) => r.path === '/echo?hidden=[redacted]');
    const rows = a.rows().filter((r) => r.id > mark && /hidden|smuggled/.test(r.path));
    expect(rows.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /echo?hidden=[redacted]']);
  });

  it('pipelined: allowed, swapped, then a foreign token — each checked and logged on its own', async () => {
    const before = a.upstream.received.length;
    const mark = lastRowId(a);
    const t = await tunnel(a, p.api, a.auth('alpha'));
    t.wire.write(
      httpReq('GET', '/echo?n=1', p.api) +
        httpReq('GET', '/echo?n=2', p.api, [['Authorization', `Bearer ${p.alpha.bearer}`]]) +
        httpReq('GET', '/echo?n=3', p.api, [['Authorization', `Bearer ${p.beta.bearer}`]]),
    );
    const r1 = await t.wire.response();
    const r2 = await t.wire.response();
    const r3 = await t.wire.response();
    t.close();
    expect([r1.status, r2.status, r3.status]).toEqual([200, 200, 403]);
    expect(a.upstream.received.length).toBe(before + 2);
    expect(a.upstream.received[before + 1]?.headers.authorization).toBe(`Bearer ${REAL.bearer}`);
    await expectProblem(a, r3, 403, 'GW_TOKEN_UNKNOWN');
    await waitRow(a, mark, (r) => r.path === '/echo?n=[redacted]' && r.decision === 'swapped');
    const rows = a.rows().filter((r) => r.id > mark);
    expect(rows.map((r) => r.decision).sort()).toEqual(['allowed', 'denied', 'swapped']);
    expectCleanEverywhere(a, r1.all, r2.all, r3.all);
  });

  it('Expect: 100-continue on a token-misuse request: 403 without any 100 Continue first', async () => {
    const before = a.upstreamCount();
    const t = await tunnel(a, p.other, a.auth('alpha'));
    t.wire.write(`POST /echo HTTP/1.1\r\nHost: ${p.other}\r\nAuthorization: Bearer ${p.alpha.bearer}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    const first = await t.wire.response();
    t.close();
    expect(first.status).toBe(403);
    expect(statusesIn(t.wire.raw)).not.toContain(100);
    const row = await expectProblem(a, first, 403, 'GW_TOKEN_SCOPE');
    expect(row.decision).toBe('token_misuse');
    expect(a.upstreamCount()).toBe(before);
  });

  it('Expect: 100-continue on a Host-mismatch request: 421 without any 100 Continue', async () => {
    const before = a.upstreamCount();
    const t = await tunnel(a, p.api, a.auth('alpha'));
    t.wire.write(`POST /echo HTTP/1.1\r\nHost: ${p.other}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    const first = await t.wire.response();
    t.close();
    expect(statusesIn(t.wire.raw)).not.toContain(100);
    await expectProblem(a, first, 421, 'GW_HOST_MISMATCH');
    expect(a.upstreamCount()).toBe(before);
  });
});

describe('other protocols inside a tunnel', () => {
  it('HTTP/2 prior knowledge: refused with a log row, nothing forwarded', async () => {
    const before = a.upstreamCount();
    const mark = lastRowId(a);
    const t = await tunnel(a, p.api, a.auth('alpha'));
    t.wire.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const res = await t.wire.responseOrClose();
    t.close();
    if (res) expect(res.status).toBeGreaterThanOrEqual(400);
    const row = await waitRow(a, mark, () => true);
    expect(row).toMatchObject({ sandbox: 'alpha', host: 'api.standin.test' });
    expect(row.errorCode).toMatch(/GW_BAD_REQUEST|GW_HTTP_VERSION/);
    expect(a.upstreamCount()).toBe(before);
  });

  it('ALPN picks h2 when the sandbox offers it, HTTP/1.1 when it offers only that, and nothing else', async () => {
    for (const [offer, expected] of [[['h2'], 'h2'], [['http/1.1'], 'http/1.1'], [['h2', 'http/1.1'], 'h2']] as const) {
      const t = await tunnel(a, p.api, a.auth('alpha'), { alpn: [...offer] });
      const negotiated = t.tls.alpnProtocol;
      t.close();
      expect(negotiated, offer.join(',')).toBe(expected);
    }
  });

  it('Upgrade: h2c is refused and logged, nothing forwarded', async () => {
    const { row } = await expectRefused(
      a,
      () => raw(httpReq('GET', '/echo', p.api, [['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'], ['Authorization', `Bearer ${p.alpha.bearer}`]])),
      400,
      'GW_BAD_REQUEST',
    );
    expect(row.sandbox).toBe('alpha');
  });

  it('a WebSocket handshake carrying a token for another host: token misuse, nothing forwarded', async () => {
    const { row } = await expectRefused(
      a,
      () =>
        raw(
          httpReq('GET', '/ws', p.other, [['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Authorization', `Bearer ${p.alpha.bearer}`]]),
          p.other,
        ),
      403,
      'GW_TOKEN_SCOPE',
    );
    expect(row.decision).toBe('token_misuse');
  });

  it('a WebSocket handshake whose Host is not the tunnel: 421, nothing forwarded', async () => {
    await expectRefused(
      a,
      () => raw(httpReq('GET', '/ws', p.other, [['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==']])),
      421,
      'GW_HOST_MISMATCH',
    );
  });

  it('Upgrade: websocket to a server that does not upgrade: the declined answer is scrubbed, later bytes never reach it unchecked', async () => {
    // The lab upstream has no WebSocket endpoint: it answers the handshake like a plain request.
    const authority = `api.standin.test:${a.lab.port}`;
    const before = a.lab.received.length;
    const mark = lastRowId(a);
    const t = await tunnel(a, authority, a.auth('alpha'));
    const smuggled = httpReq('GET', '/smuggled', `other.standin.test:${p.port}`, [['Authorization', `Bearer ${p.alpha.lab}`]]);
    t.wire.write(
      httpReq('GET', '/echo', authority, [['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Authorization', `Bearer ${p.alpha.lab}`]]) +
        smuggled,
    );
    await t.wire.closedWithin(2_000);
    t.close();
    await new Promise((r) => setTimeout(r, 100));
    const urls = a.lab.received.slice(before).map((e) => e.url);
    expect(urls).toEqual(['/echo']);
    expect(a.lab.received[before]?.headers.authorization).toBe(`Bearer ${REAL.lab}`);
    expect(statusesIn(t.wire.raw)[0]).toBe(200);
    const row = await waitRow(a, mark, (r) => r.path === '/echo');
    expect(row).toMatchObject({ decision: 'swapped', sandbox: 'alpha', secrets: ['lab-s@1'] });
    expectCleanEverywhere(a, t.wire.raw);
  });

  it('a request trailer cannot carry a credential upstream', async () => {
    const before = a.lab.received.length;
    const authority = `api.standin.test:${a.lab.port}`;
    const t = await tunnel(a, authority, a.auth('alpha'));
    t.wire.write(
      `POST /echo HTTP/1.1\r\nHost: ${authority}\r\nTransfer-Encoding: chunked\r\nTrailer: Authorization\r\n\r\n5\r\nhello\r\n0\r\nAuthorization: Bearer ${p.alpha.bearer}\r\n\r\n`,
    );
    const res = await t.wire.response();
    t.close();
    expect(res.status).toBe(200);
    const got = a.lab.received[before];
    expect(got?.body).toBe('hello');
    expect(got?.rawTrailers).toEqual([]);
    expect(JSON.stringify(got)).not.toContain(p.alpha.bearer);
    expectCleanEverywhere(a, res.all);
  });

  it('HTTP/1.0 with Transfer-Encoding and a token: refused 505, nothing forwarded', async () => {
    const { row } = await expectRefused(
      a,
      () => raw(`POST /echo HTTP/1.0\r\nHost: ${p.api}\r\nAuthorization: Bearer ${p.alpha.bearer}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
      505,
      'GW_HTTP_VERSION',
    );
    expect(row.sandbox).toBe('alpha');
  });

  it('OPTIONS * (asterisk-form) inside a tunnel: 400, nothing forwarded', async () => {
    await expectRefused(a, () => raw(`OPTIONS * HTTP/1.1\r\nHost: ${p.api}\r\n\r\n`), 400, 'GW_BAD_REQUEST');
  });

  it('CONNECT inside a tunnel (tunnel-in-tunnel): answered with a problem, logged, nothing forwarded', async () => {
    const t = await tunnel(a, p.api, a.auth('alpha'));
    const before = a.upstreamCount();
    t.wire.write(`CONNECT other.standin.test:${p.port} HTTP/1.1\r\nHost: other.standin.test:${p.port}\r\n\r\n`);
    const res = await t.wire.responseOrClose({ timeoutMs: 3_000 });
    t.close();
    expect(a.upstreamCount()).toBe(before);
    expect(res, 'the gateway closed the tunnel without an answer and without a log row').not.toBeNull();
    expect(res!.status).toBeGreaterThanOrEqual(400);
    const row = await rowFor(a, (JSON.parse(res!.text) as { request_id: string }).request_id);
    expect(row.sandbox).toBe('alpha');
  });
});
