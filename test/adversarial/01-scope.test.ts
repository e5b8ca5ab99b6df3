import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanEverywhere, plant, startAdv, type Adv, type Planted } from './setup.js';
import { connectRaw, dial, expectProblem, expectRefused, httpReq, once, rowFor, tunnel, type Res } from './wire.js';

// Class 1 — scope: the CONNECT target is the only authority a secret's scope is checked against.

let a: Adv;
let p: Planted;

beforeAll(async () => {
  a = await startAdv();
  p = plant(a);
});

afterAll(async () => {
  await a.close();
});

const bearer = (t: string): [string, string] => ['Authorization', `Bearer ${t}`];

/** A token sent on a tunnel to `authority`: refused as token misuse, nothing forwarded. */
async function expectMisuse(authority: string, host: string, token: string, secret: string, opts: { servername?: string } = {}): Promise<void> {
  const { row } = await expectRefused(a, () => once(a, authority, 'alpha', httpReq('GET', '/echo', host, [bearer(token)]), opts), 403, 'GW_TOKEN_SCOPE');
  expect(row).toMatchObject({ decision: 'token_misuse', sandbox: 'alpha', secrets: [secret] });
}

describe('scope: only the CONNECT target counts', () => {
  it('a Host header naming the in-scope host inside a tunnel to another host: 421, nothing forwarded', async () => {
    const { row } = await expectRefused(a, () => once(a, p.other, 'alpha', httpReq('GET', '/echo', p.api, [bearer(p.alpha.bearer)])), 421, 'GW_HOST_MISMATCH');
    expect(row).toMatchObject({ host: 'other.standin.test', sandbox: 'alpha' });
  });

  it('SNI naming the in-scope host on a tunnel to another host: leaf is for the CONNECT host, token refused as misuse', async () => {
    const t = await tunnel(a, p.other, a.auth('alpha'), { servername: 'api.standin.test' });
    try {
      expect(t.cert.subjectaltname).toContain('DNS:other.standin.test');
      expect(t.cert.subjectaltname).not.toContain('api.standin.test');
      const before = a.upstreamCount();
      t.wire.write(httpReq('GET', '/echo', p.other, [bearer(p.alpha.bearer)]));
      const res = await t.wire.response();
      const row = await expectProblem(a, res, 403, 'GW_TOKEN_SCOPE');
      expect(row.decision).toBe('token_misuse');
      expect(a.upstreamCount()).toBe(before);
      expectCleanEverywhere(a, res.all);
    } finally {
      t.close();
    }
  });

  it('SNI naming another host on an in-scope tunnel: the upstream is reached with the CONNECT host as SNI', async () => {
    const before = a.upstream.received.length;
    const res = await once(a, p.api, 'alpha', httpReq('GET', '/echo', p.api, [bearer(p.alpha.bearer)]), { servername: 'evil.standin.test' });
    expect(res.status).toBe(200);
    expect(a.upstream.received.length).toBe(before + 1);
    expect(a.upstream.received[before]?.servername).toBe('api.standin.test');
    expect(a.upstream.received[before]?.headers.authorization).toBe(`Bearer ${'sk-live-REALbearer-7Qw9ZxY2vTT'}`);
    expectCleanEverywhere(a, res.all);
  });

  it('absolute-form URI naming the in-scope host inside a tunnel to another host: refused, nothing forwarded', async () => {
    await expectRefused(a, () => once(a, p.other, 'alpha', httpReq('GET', `https://${p.api}/echo`, p.other, [bearer(p.alpha.bearer)])), 421, 'GW_HOST_MISMATCH');
  });

  it('absolute-form URI naming the tunnel host itself is refused too (one parser only)', async () => {
    await expectRefused(a, () => once(a, p.api, 'alpha', httpReq('GET', `https://${p.api}/echo`, p.api, [bearer(p.alpha.bearer)])), 421, 'GW_HOST_MISMATCH');
  });

  it('Host naming the tunnel host on another port: 421', async () => {
    await expectRefused(a, () => once(a, p.api, 'alpha', httpReq('GET', '/echo', 'api.standin.test:443', [bearer(p.alpha.bearer)])), 421, 'GW_HOST_MISMATCH');
  });

  it('trailing dot and letter case on an out-of-scope CONNECT do not make it in scope; logged canonical', async () => {
    const authority = `OTHER.Standin.TEST.:${p.port}`;
    const { row } = await expectRefused(a, () => once(a, authority, 'alpha', httpReq('GET', '/echo', authority, [bearer(p.alpha.bearer)]), { servername: 'other.standin.test' }), 403, 'GW_TOKEN_SCOPE');
    expect(row).toMatchObject({ host: 'other.standin.test', port: p.port, decision: 'token_misuse' });
  });

  it('trailing dot and letter case on the in-scope host: swapped, upstream SNI is the canonical name', async () => {
    const authority = `API.standin.Test.:${p.port}`;
    const before = a.upstream.received.length;
    const res = await once(a, authority, 'alpha', httpReq('GET', '/echo', authority, [bearer(p.alpha.bearer)]), { servername: 'api.standin.test' });
    expect(res.status).toBe(200);
    expect(a.upstream.received[before]?.servername).toBe('api.standin.test');
    const row = await rowFor(a, a.rows().at(-1)!.requestId);
    expect(row).toMatchObject({ host: 'api.standin.test', decision: 'swapped', secrets: ['bearer-s@1'] });
    expectCleanEverywhere(a, res.all);
  });

  it('a punycode (xn--) look-alike of the scoped host is another host: token misuse', async () => {
    await expectMisuse(`xn--pi-7ka.standin.test:${p.port}`, `xn--pi-7ka.standin.test:${p.port}`, p.alpha.bearer, 'bearer-s@1');
  });

  it('unicode, full-width dots and percent-escapes in CONNECT: 400, logged, nothing forwarded', async () => {
    const targets = [`аpi.standin.test:${p.port}` /* Cyrillic а */, `api。standin.test:${p.port}`, `api．standin.test:${p.port}`, `api%2estandin.test:${p.port}`, `api.standin.test%3a${p.port}`];
    for (const target of targets) {
      const before = a.upstreamCount();
      const w = await dial(a.gw);
      w.write(Buffer.from(`CONNECT ${target} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${a.auth('alpha')}\r\n\r\n`, 'utf8'));
      const res = await w.response();
      w.socket.destroy();
      expect(res.status, target).toBe(400);
      expect(res.headers['content-type']?.[0]).toBe('application/problem+json');
      const body = JSON.parse(res.text) as { code: string; request_id: string };
      expect(['GW_BAD_TARGET', 'GW_BAD_REQUEST'], target).toContain(body.code);
      const row = await rowFor(a, body.request_id);
      expect(row.status).toBe(400);
      expect(row.host).toBe('');
      expect(a.upstreamCount()).toBe(before);
    }
  });

  it('a secret scoped to host:PORT is not valid on the same host at another port', async () => {
    const authority = `api.standin.test:${a.lab.port}`;
    await expectMisuse(authority, authority, p.alpha.bearer, 'bearer-s@1');
  });

  it('a secret scoped without a port (443) is not valid on another port', async () => {
    await expectMisuse(p.api, p.api, p.alpha.apex443, 'apex-443@1');
  });

  it('the IP literal of an allowed host is not the host: CONNECT 127.0.0.1:PORT with a token is token misuse', async () => {
    const authority = `127.0.0.1:${p.port}`;
    const { row } = await expectRefused(a, () => once(a, authority, 'alpha', httpReq('GET', '/echo', authority, [bearer(p.alpha.bearer)])), 403, 'GW_TOKEN_SCOPE');
    expect(row).toMatchObject({ host: '127.0.0.1', decision: 'token_misuse' });
  });

  it('the IPv4-mapped IPv6 literal of an allowed host never gets the token swapped', async () => {
    const authority = `[::ffff:127.0.0.1]:${p.port}`;
    const before = a.upstreamCount();
    const { res, wire } = await connectRaw(a.gw, authority, a.auth('alpha'));
    let answer: Res = res;
    if (res.status === 200) {
      wire.socket.destroy();
      answer = await once(a, authority, 'alpha', httpReq('GET', '/echo', authority, [bearer(p.alpha.bearer)]));
      await expectProblem(a, answer, 403, 'GW_TOKEN_SCOPE');
    } else {
      wire.socket.destroy();
      expect(answer.status).toBe(403);
      await expectProblem(a, answer, 403, JSON.parse(answer.text).code as string);
    }
    expect(a.upstreamCount()).toBe(before);
    expectCleanEverywhere(a, answer.all);
  });

  it('userinfo in the CONNECT authority: 400 (the part after @ is not trusted)', async () => {
    const { res, wire } = await connectRaw(a.gw, `${p.api}@other.standin.test:${p.port}`, a.auth('alpha'));
    wire.socket.destroy();
    const row = await expectProblem(a, res, 400, 'GW_BAD_TARGET');
    expect(row.sandbox).toBe('alpha');
  });

  it('userinfo in an absolute plain-HTTP URL (token as password): 400, nothing forwarded', async () => {
    const before = a.upstreamCount();
    const w = await dial(a.gw);
    w.write(httpReq('GET', `http://user:${p.alpha.bearer}@api.standin.test:${a.lab.httpPort}/echo`, `api.standin.test:${a.lab.httpPort}`, [['Proxy-Authorization', a.auth('alpha')], ['Connection', 'close']]));
    const res = await w.response();
    w.socket.destroy();
    await expectProblem(a, res, 400, 'GW_BAD_TARGET');
    expect(a.upstreamCount()).toBe(before);
    expect(res.all).not.toContain(p.alpha.bearer.slice(10));
  });

  describe('wildcard edges (*.standin.test:PORT)', () => {
    for (const host of ['standin.test', 'evil-standin.test', 'api.standin.test.evil.net']) {
      it(`${host} is outside *.standin.test`, async () => {
        const authority = `${host}:${p.port}`;
        await expectMisuse(authority, authority, p.alpha.wild, 'wild-s@1', { servername: host });
      });
    }

    it('one label below the parent is inside (control): swapped', async () => {
      const before = a.upstream.received.length;
      const res = await once(a, p.other, 'alpha', httpReq('GET', '/echo', p.other, [bearer(p.alpha.wild)]));
      expect(res.status).toBe(200);
      expect(a.upstream.received[before]?.headers.authorization).toBe('Bearer real-wildcard-secret-W1ld9RR');
      expectCleanEverywhere(a, res.all);
    });
  });

  it('redirects go to the client, never followed: 302 relayed, the upstream saw exactly one request', async () => {
    const before = a.upstream.received.length;
    const res = await once(a, p.api, 'alpha', httpReq('GET', '/redirect', p.api, [bearer(p.alpha.bearer)]));
    expect(res.status).toBe(302);
    expect(res.headers.location).toEqual(['https://other.standin.test/landing']);
    await new Promise((r) => setTimeout(r, 100));
    expect(a.upstream.received.length).toBe(before + 1);
    expect(a.upstream.received[before]?.url).toBe('/redirect');
    const row = a.rows().at(-1);
    expect(row).toMatchObject({ path: '/redirect', status: 302, decision: 'swapped' });
    expectCleanEverywhere(a, res.all);
  });
});
