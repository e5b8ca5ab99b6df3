import { constants, gunzipSync, brotliDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth } from '../helpers/client.js';
import { LAB_BOMB_BYTES } from './lab-upstream.js';
import { REAL, expectCleanEverywhere, expectNoLeak, plant, startAdv, type Adv, type Planted } from './setup.js';
import { dial, expectProblem, expectRefusedAny, httpReq, lastRowId, once, rowFor, tunnel, waitRow } from './wire.js';

// Class 4 — reflection: what the upstream sends back never carries the real value to the sandbox.

let a: Adv;
let p: Planted;
let lab: string;

beforeAll(async () => {
  a = await startAdv();
  p = plant(a);
  lab = `api.standin.test:${a.lab.port}`;
});

afterAll(async () => {
  await a.close();
});

const labAuth = (): [string, string] => ['Authorization', `Bearer ${p.alpha.lab}`];

describe('query-scheme values come back scrubbed', () => {
  it('/reflect: Location, WWW-Authenticate, Set-Cookie and body carry no form of the value', async () => {
    const res = await once(a, p.api, 'alpha', httpReq('GET', `/reflect?key=${p.alpha.query}`, p.api, [['Accept-Encoding', 'identity']]));
    expect(res.status).toBe(302);
    expect(a.upstream.received.at(-1)?.url).toBe(`/reflect?key=${encodeURIComponent(REAL.query)}`);
    expect(res.headers['x-standin-error']).toBeUndefined();
    expectCleanEverywhere(a, res.all);
  });

  it('/reflect: the value twice URL-encoded (URL inside a URL parameter) is scrubbed too', async () => {
    const res = await once(a, p.api, 'alpha', httpReq('GET', `/reflect?key=${p.alpha.query}`, p.api));
    const twice = encodeURIComponent(encodeURIComponent(REAL.query));
    expect(res.headers.location?.[0] ?? '', 'Location').not.toContain(twice);
    expect(JSON.stringify(res.headers['set-cookie'] ?? []), 'Set-Cookie').not.toContain(twice);
  });

  it('/split: the encoded value straddling one-byte writes is scrubbed', async () => {
    const res = await once(a, p.api, 'alpha', httpReq('GET', `/split?key=${p.alpha.query}`, p.api));
    expect(res.status).toBe(200);
    expect(res.text).toContain(p.alpha.query);
    expectCleanEverywhere(a, res.all);
  });

  for (const coding of ['gzip', 'br', 'deflate'] as const) {
    it(`/${coding}: compressed reflections of the query value are scrubbed`, async () => {
      const res = await once(a, p.api, 'alpha', httpReq('GET', `/${coding}?key=${p.alpha.query}`, p.api, [['Accept-Encoding', 'gzip, deflate, br']]));
      expect(res.status).toBe(200);
      const enc = res.headers['content-encoding']?.[0];
      const opts = { finishFlush: constants.Z_SYNC_FLUSH };
      const body =
        enc === 'gzip' ? gunzipSync(res.body, opts) : enc === 'br' ? brotliDecompressSync(res.body) : enc === 'deflate' ? (await import('node:zlib')).inflateSync(res.body, opts) : res.body;
      expect(body.toString()).toContain(p.alpha.query);
      expectCleanEverywhere(a, res.head, body.toString());
    });
  }
});

describe('streams', () => {
  it('SSE with Basic credentials: events arrive one by one, the base64 pair never does', async () => {
    const t = await tunnel(a, p.api, a.auth('alpha'));
    const started = Date.now();
    t.wire.write(httpReq('GET', '/sse', p.api, [['Authorization', basicAuth('acct', p.alpha.basic)]]));
    const firstAt = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no first event')), 2_000);
      const check = (): void => {
        if (t.wire.raw.includes('data: 1 ')) {
          clearTimeout(timer);
          resolve(Date.now() - started);
        } else setTimeout(check, 5);
      };
      check();
    });
    const done = await t.wire.response();
    t.close();
    expect(firstAt).toBeLessThan(250);
    expect(done.text.match(/event: tick/g)).toHaveLength(3);
    expect(done.text).toMatch(/data: 3 Basic \S+/);
    expectCleanEverywhere(a, t.wire.raw, done.all);
  });
});

describe('channels a naive relay forgets', () => {
  it('the reason phrase of the status line', async () => {
    const res = await once(a, lab, 'alpha', httpReq('GET', '/reason', lab, [labAuth()]));
    expect(res.status).toBe(200);
    expect(a.lab.received.at(-1)?.headers.authorization).toBe(`Bearer ${REAL.lab}`);
    expectCleanEverywhere(a, res.all);
  });

  it('response trailers', async () => {
    const t = await tunnel(a, lab, a.auth('alpha'));
    t.wire.write(httpReq('GET', '/trailer', lab, [labAuth(), ['TE', 'trailers']]));
    const res = await t.wire.response();
    t.close();
    expect(res.status).toBe(200);
    expectCleanEverywhere(a, t.wire.raw);
  });

  it('103 Early Hints before the response', async () => {
    const t = await tunnel(a, lab, a.auth('alpha'));
    t.wire.write(httpReq('GET', '/hints', lab, [labAuth()]));
    let res = await t.wire.response();
    while (res.status < 200) res = await t.wire.response();
    t.close();
    expect(res.status).toBe(200);
    expectCleanEverywhere(a, t.wire.raw);
  });

  for (const coding of ['zstd', 'gzip, br', 'compress']) {
    it(`a body labelled "${coding}" (unscrubbable) on a swapped request is refused, not relayed`, async () => {
      const before = a.lab.received.length;
      const res = await once(a, lab, 'alpha', httpReq('GET', `/coding?c=${encodeURIComponent(coding)}`, lab, [labAuth()]));
      expect(a.lab.received.length).toBe(before + 1);
      await expectProblem(a, res, 502, 'GW_UPSTREAM_PROTOCOL');
      expectCleanEverywhere(a, res.all);
    });
  }

  it('clear text labelled gzip: cut, never relayed as is', async () => {
    const t = await tunnel(a, lab, a.auth('alpha'));
    t.wire.write(httpReq('GET', '/coding?c=gzip', lab, [labAuth()]));
    const closed = await t.wire.closedWithin(3_000);
    t.close();
    expect(closed).toBe(true);
    expectCleanEverywhere(a, t.wire.raw);
    expect(t.wire.raw).not.toContain('clear text');
  });

  it('a header NAME that echoes the value (in any letter case) is dropped, Bearer and custom header alike', async () => {
    for (const [token, real, header] of [[p.alpha.bearer, REAL.bearer, 'Authorization'], [p.alpha.header, REAL.header, 'X-Api-Key']] as const) {
      const value = header === 'Authorization' ? `Bearer ${token}` : token;
      const res = await once(a, p.api, 'alpha', httpReq('GET', '/reflect', p.api, [[header, value], ['Accept-Encoding', 'identity']]));
      expect(res.status).toBe(302);
      // The upstream did send it: the header is in what it answered with.
      expect(a.upstream.received.at(-1)?.headers[header.toLowerCase()]).toContain(real);
      expect(res.all.toLowerCase()).not.toContain(real.toLowerCase());
      expect(Object.keys(res.headers).some((k) => k.startsWith('x-echo-'))).toBe(false);
      expectCleanEverywhere(a, res.all);
    }
  });

  it('x-standin-* headers from the upstream are stripped, in any letter case, swapped or not; the only one is the gateway\'s request id', async () => {
    const plain = await once(a, lab, 'alpha', httpReq('GET', '/forged', lab));
    const swapped = await once(a, lab, 'alpha', httpReq('GET', '/forged', lab, [labAuth()]));
    const reflect = await once(a, p.api, 'alpha', httpReq('GET', '/reflect', p.api));
    for (const r of [plain, swapped, reflect]) {
      expect(Object.keys(r.headers).filter((k) => k.startsWith('x-standin-'))).toEqual(['x-standin-request-id']);
      const ids = r.headers['x-standin-request-id'] ?? [];
      expect(ids).toHaveLength(1);
      expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect((await rowFor(a, ids[0] ?? '')).path).toBe(r === reflect ? '/reflect' : '/forged');
      expect(r.head).not.toMatch(/forged|GW_FORGED/i);
    }
  });
});

describe('values that come back later, or under another secret', () => {
  it('a value swapped into a login comes back on a later request without any token: scrubbed', async () => {
    const login = await once(a, p.api, 'alpha', httpReq('GET', '/session/login', p.api, [['Authorization', `Bearer ${p.alpha.bearer}`]]));
    expect(login.status).toBe(200);
    expect(a.upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${REAL.bearer}`);
    const sid = /sid=(\w+)/.exec(String(login.headers['set-cookie'] ?? ''))?.[1];
    expect(sid).toBeDefined();
    // No token in this request: nothing is swapped, and yet the answer carries the real value.
    for (const encoding of ['identity', 'gzip']) {
      const me = await once(a, p.api, 'alpha', httpReq('GET', '/session/me', p.api, [['Cookie', `sid=${sid}`], ['Accept-Encoding', encoding]]));
      expect(me.status).toBe(200);
      expect(a.upstream.received.at(-1)?.headers.authorization).toBeUndefined();
      expect(me.all).toMatch(/sk-standin_|standin_/);
      expectCleanEverywhere(a, me.all);
    }
  });

  it('a response to one secret\'s request that carries another in-scope secret of the sandbox: scrubbed', async () => {
    const login = await once(a, p.api, 'alpha', httpReq('GET', '/session/login', p.api, [['X-Api-Key', p.alpha.header]]));
    const sid = /sid=(\w+)/.exec(String(login.headers['set-cookie'] ?? ''))?.[1];
    const me = await once(a, p.api, 'alpha', httpReq('GET', '/session/me', p.api, [['Cookie', `sid=${sid}`], ['Authorization', `Bearer ${p.alpha.bearer}`]]));
    expect(me.status).toBe(200);
    expect(a.upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${REAL.bearer}`);
    expect(me.all).toContain(p.alpha.header);
    expectCleanEverywhere(a, me.all);
  });

  it('another sandbox\'s session on the same host shows it only its own values, never another\'s', async () => {
    // beta holds bearer-s too (its own token); alpha's header secret is not beta's: beta's
    // answers are scrubbed of beta's secrets only, and beta never had alpha's header value swapped.
    const me = await once(a, p.api, 'beta', httpReq('GET', '/session/me', p.api, [['Cookie', 'sid=s1']]));
    expect(me.status).toBe(200);
    expect(me.all).not.toContain(REAL.bearer);
  });
});

describe('decompression bombs', () => {
  for (const coding of ['gzip', 'br'] as const) {
    it(`a ${coding} bomb (64 MiB of zeros) on a swapped request is cut, not inflated whole`, async () => {
      const mark = lastRowId(a);
      const t = await tunnel(a, lab, a.auth('alpha'));
      const started = Date.now();
      t.wire.write(httpReq('GET', `/bomb?coding=${coding}`, lab, [labAuth(), ['Accept-Encoding', coding]]));
      const closed = await t.wire.closedWithin(15_000);
      t.close();
      expect(closed).toBe(true);
      expect(Date.now() - started).toBeLessThan(15_000);
      const raw = Buffer.from(t.wire.raw, 'latin1');
      const bodyStart = raw.indexOf('\r\n\r\n') + 4;
      // De-chunk leniently (the stream was cut), then inflate what arrived.
      const parts: Buffer[] = [];
      let pos = bodyStart;
      for (;;) {
        const eol = raw.indexOf('\r\n', pos);
        if (eol < 0) break;
        const size = parseInt(raw.subarray(pos, eol).toString(), 16);
        if (!size) break;
        parts.push(raw.subarray(eol + 2, Math.min(raw.length, eol + 2 + size)));
        pos = eol + 2 + size + 2;
      }
      const compressed = Buffer.concat(parts);
      let inflated = 0;
      try {
        inflated = coding === 'gzip' ? gunzipSync(compressed, { finishFlush: constants.Z_SYNC_FLUSH }).length : brotliDecompressSync(compressed).length;
      } catch {
        inflated = 0; // truncated brotli: nothing usable arrived
      }
      expect(inflated).toBeLessThan(LAB_BOMB_BYTES);
      const row = await waitRow(a, mark, (r) => r.path === '/bomb?coding=[redacted]');
      expect(row.errorCode).toBe('GW_UPSTREAM_PROTOCOL');
      expect(row.bytesIn).toBeLessThanOrEqual(a.lab.bombSizes[coding]! + 1024);
    }, 20_000);
  }
});

describe('methods that reflect', () => {
  it('TRACK inside a tunnel: refused, nothing forwarded', async () => {
    // llhttp may reject the method itself (400) before the gateway's method check (405).
    await expectRefusedAny(a, () => once(a, p.api, 'alpha', httpReq('TRACK', '/echo', p.api, [['Authorization', `Bearer ${p.alpha.bearer}`]])), [
      [405, 'GW_METHOD_DENIED'],
      [400, 'GW_BAD_REQUEST'],
    ]);
  });

  it('TRACE over the plain-HTTP proxy: 405, nothing forwarded', async () => {
    const before = a.upstreamCount();
    const w = await dial(a.gw);
    w.write(httpReq('TRACE', `http://api.standin.test:${a.lab.httpPort}/`, `api.standin.test:${a.lab.httpPort}`, [['Proxy-Authorization', a.auth('alpha')]]));
    const res = await w.response();
    w.socket.destroy();
    await expectProblem(a, res, 405, 'GW_METHOD_DENIED');
    expect(a.upstreamCount()).toBe(before);
    expectNoLeak(res.all);
  });
});
