import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { basicAuth } from '../helpers/client.js';
import { REAL, expectCleanEverywhere, plant, startAdv, type Adv, type Planted } from './setup.js';
import { expectProblem, expectRefused, httpReq, once, tunnel, type HeaderPairs, type Res } from './wire.js';

// Class 3 — tokens: honoured only on their own sandbox's connection, exactly as issued.

let a: Adv;
let p: Planted;

beforeAll(async () => {
  a = await startAdv();
  p = plant(a);
});

afterAll(async () => {
  await a.close();
});

const req = (host: string, headers: HeaderPairs, path = '/echo'): string => httpReq('GET', path, host, headers);

async function expectForwardedUntouched(res: Res, before: number, check: (echo: { url: string; headers: Record<string, unknown>; body: string }) => void): Promise<void> {
  expect(res.status).toBe(200);
  expect(a.upstream.received.length).toBe(before + 1);
  const echo = a.upstream.received[before]!;
  check(echo);
  expectNoRealIn(JSON.stringify(echo));
  expectCleanEverywhere(a, res.all);
}

function expectNoRealIn(upstreamView: string): void {
  for (const v of Object.values(REAL)) expect(upstreamView).not.toContain(v);
}

describe('token shape', () => {
  it('a partial token (one character short) is not a token: forwarded untouched, never swapped', async () => {
    const partial = p.alpha.bearer.slice(0, -1);
    const before = a.upstream.received.length;
    const res = await once(a, p.api, 'alpha', req(p.api, [['Authorization', `Bearer ${partial}`]]));
    await expectForwardedUntouched(res, before, (e) => expect(e.headers.authorization).toBe(`Bearer ${partial}`));
    expect(a.rows().at(-1)).toMatchObject({ decision: 'allowed', secrets: [] });
  });

  it('a token with extra characters is refused in every scheme, nothing forwarded', async () => {
    const cases: HeaderPairs[] = [
      [['x-api-key', `${p.alpha.header}-1`]],
      [['x-api-key', `A${p.alpha.header}`]],
      [['Authorization', basicAuth('acct', `${p.alpha.basic}Z`)]],
      [['Authorization', `Bearer ${p.alpha.bearer}0`]],
    ];
    for (const headers of cases) {
      await expectRefused(a, () => once(a, p.api, 'alpha', req(p.api, headers)), 403, 'GW_TOKEN_UNKNOWN');
    }
  });

  it('a provider-prefixed token sent with another prefix or without its prefix is unknown', async () => {
    const core = p.alpha.bearer.slice(p.alpha.bearer.indexOf('standin_'));
    expect(core).not.toBe(p.alpha.bearer);
    for (const t of [core, `xx-${core}`, `sk-ant-${core}`]) {
      await expectRefused(a, () => once(a, p.api, 'alpha', req(p.api, [['Authorization', `Bearer ${t}`]])), 403, 'GW_TOKEN_UNKNOWN');
    }
  });
});

describe('lifecycle while a tunnel stays open', () => {
  /** A keep-alive tunnel to api with a helper that sends one request and reads its answer. */
  async function keepAlive(sandbox: string): Promise<{ ask: (headers: HeaderPairs) => Promise<Res>; close: () => void }> {
    const t = await tunnel(a, p.api, a.auth(sandbox));
    return {
      ask: async (headers) => {
        t.wire.write(req(p.api, headers));
        return t.wire.response();
      },
      close: t.close,
    };
  }

  it('a binding deleted while its tunnel is open: next request refused as unknown token', async () => {
    const b = a.store.bind('alpha', 'TEMP_BIND', 'bearer-s', 'adv');
    const t = await keepAlive('alpha');
    expect((await t.ask([['Authorization', `Bearer ${b.token}`]])).status).toBe(200);
    a.store.unbind('alpha', 'TEMP_BIND', 'adv');
    const before = a.upstreamCount();
    const res = await t.ask([['Authorization', `Bearer ${b.token}`]]);
    t.close();
    await expectProblem(a, res, 403, 'GW_TOKEN_UNKNOWN');
    expect(a.upstreamCount()).toBe(before);
    expectCleanEverywhere(a, res.all);
  });

  it('a sandbox deleted while its tunnel is open: its token is refused with 407 on that tunnel', async () => {
    a.store.createSecret({ name: 'doomed-s', scheme: { kind: 'bearer' }, hosts: [p.api], value: new SecretValue('doomed-real-value-DmDm77'), actor: 'adv' });
    const sb = a.store.createSandbox({ name: 'doomed', allowHosts: [], bindings: [{ env: 'T', secretName: 'doomed-s' }], actor: 'adv' });
    const token = sb.bindings[0]!.token;
    const t = await keepAlive('doomed');
    const ok = await t.ask([['Authorization', `Bearer ${token}`]]);
    expect(ok.status).toBe(200);
    a.store.deleteSandbox('doomed', 'adv');
    const before = a.upstreamCount();
    const res = await t.ask([['Authorization', `Bearer ${token}`]]);
    t.close();
    await expectProblem(a, res, 407, 'GW_PROXY_AUTH');
    expect(a.upstreamCount()).toBe(before);
    expect(res.all + ok.all + a.logs() + JSON.stringify(a.rows())).not.toContain('doomed-real-value-DmDm77');
  });

  it('a secret deleted while a tunnel is open: its token is refused, nothing forwarded', async () => {
    a.store.createSecret({ name: 'gone-s', scheme: { kind: 'bearer' }, hosts: [p.api], value: new SecretValue('gone-real-value-G0neG0ne'), actor: 'adv' });
    const b = a.store.bind('alpha', 'GONE', 'gone-s', 'adv');
    const t = await keepAlive('alpha');
    expect((await t.ask([['Authorization', `Bearer ${b.token}`]])).status).toBe(200);
    a.store.deleteSecret('gone-s', 'adv');
    const before = a.upstreamCount();
    const res = await t.ask([['Authorization', `Bearer ${b.token}`]]);
    t.close();
    await expectProblem(a, res, 403, 'GW_TOKEN_UNKNOWN');
    expect(a.upstreamCount()).toBe(before);
    expect(res.all + a.logs() + JSON.stringify(a.rows())).not.toContain('gone-real-value-G0neG0ne');
  });

  it('rotation and rollback on an open tunnel: the token stays valid, the current value is used and scrubbed', async () => {
    a.store.createSecret({ name: 'rot-s', scheme: { kind: 'bearer' }, hosts: [p.api], value: new SecretValue('rot-value-ONE-1a1a1a'), actor: 'adv' });
    const b = a.store.bind('alpha', 'ROT', 'rot-s', 'adv');
    const t = await keepAlive('alpha');
    const sent = (): unknown => a.upstream.received.at(-1)?.headers.authorization;
    const r1 = await t.ask([['Authorization', `Bearer ${b.token}`]]);
    expect(sent()).toBe('Bearer rot-value-ONE-1a1a1a');
    a.store.rotateSecret('rot-s', new SecretValue('rot-value-TWO-2b2b2b'), 'adv');
    const r2 = await t.ask([['Authorization', `Bearer ${b.token}`]]);
    expect(sent()).toBe('Bearer rot-value-TWO-2b2b2b');
    expect(a.rows().at(-1)?.secrets).toEqual(['rot-s@2']);
    a.store.rollbackSecret('rot-s', 'adv');
    const r3 = await t.ask([['Authorization', `Bearer ${b.token}`]]);
    t.close();
    expect(sent()).toBe('Bearer rot-value-ONE-1a1a1a');
    for (const r of [r1, r2, r3]) {
      expect(r.status).toBe(200);
      expect(r.text).toContain(b.token);
      expect(r.all).not.toMatch(/rot-value-(ONE|TWO)/);
    }
    expect(a.logs() + JSON.stringify(a.rows())).not.toMatch(/rot-value-(ONE|TWO)/);
  });
});

describe('header spellings and placements', () => {
  it('upper-case header names on an out-of-scope host are still caught as misuse', async () => {
    for (const headers of [[['AUTHORIZATION', `Bearer ${p.alpha.bearer}`]], [['X-API-KEY', p.alpha.header]], [['x-Api-Key', p.alpha.header]]] as HeaderPairs[]) {
      const { row } = await expectRefused(a, () => once(a, p.other, 'alpha', req(p.other, headers)), 403, 'GW_TOKEN_SCOPE');
      expect(row.decision).toBe('token_misuse');
    }
  });

  it('case-varied header names in scope are swapped (control)', async () => {
    const before = a.upstream.received.length;
    const res = await once(a, p.api, 'alpha', req(p.api, [['aUtHoRiZaTiOn', `bEaReR ${p.alpha.bearer}`], ['X-API-KEY', p.alpha.header]]));
    expect(res.status).toBe(200);
    const e = a.upstream.received[before]!;
    expect(e.headers.authorization).toBe(`bEaReR ${REAL.bearer}`);
    expect(e.headers['x-api-key']).toBe(REAL.header);
    expectCleanEverywhere(a, res.all);
  });

  it('Authorization twice with different letter case: 400, nothing forwarded', async () => {
    await expectRefused(a, () => once(a, p.api, 'alpha', req(p.api, [['Authorization', `Bearer ${p.alpha.bearer}`], ['AUTHORIZATION', 'Bearer decoy']])), 400, 'GW_BAD_REQUEST');
  });

  it('x-api-key twice (decoy first, token second) on an out-of-scope host: misuse, nothing forwarded', async () => {
    await expectRefused(a, () => once(a, p.other, 'alpha', req(p.other, [['x-api-key', 'decoy'], ['X-Api-Key', p.alpha.header]])), 403, 'GW_TOKEN_SCOPE');
  });

  it('tokens in three places at once, all valid: all three swapped, all scrubbed', async () => {
    const before = a.upstream.received.length;
    const res = await once(a, p.api, 'alpha', req(p.api, [['Authorization', `Bearer ${p.alpha.bearer}`], ['x-api-key', p.alpha.header]], `/echo?key=${p.alpha.query}`));
    expect(res.status).toBe(200);
    const e = a.upstream.received[before]!;
    expect(e.headers.authorization).toBe(`Bearer ${REAL.bearer}`);
    expect(e.headers['x-api-key']).toBe(REAL.header);
    expect(e.url).toBe(`/echo?key=${encodeURIComponent(REAL.query)}`);
    expect([...(a.rows().at(-1)?.secrets ?? [])].sort()).toEqual(['bearer-s@1', 'header-s@1', 'query-s@1']);
    expectCleanEverywhere(a, res.all);
  });

  it('a valid token together with a foreign one: the whole request is refused, nothing forwarded', async () => {
    await expectRefused(a, () => once(a, p.api, 'alpha', req(p.api, [['Authorization', `Bearer ${p.alpha.bearer}`], ['x-api-key', p.alpha.header]], `/echo?key=${p.beta.bearer}`)), 403, 'GW_TOKEN_UNKNOWN');
  });

  it('a percent-encoded token in a query to an out-of-scope host is decoded and caught as misuse', async () => {
    const encoded = [...p.alpha.query].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    const { row } = await expectRefused(a, () => once(a, p.other, 'alpha', req(p.other, [], `/echo?key=${encoded}`)), 403, 'GW_TOKEN_SCOPE');
    expect(row.secrets).toEqual(['query-s@1']);
    expect(row.path).toBe('/echo?key=[redacted]');
  });

  it('a percent-encoded token in scope is swapped and the value re-encoded', async () => {
    const encoded = p.alpha.query.replace('standin_', '%73tandin%5F');
    const before = a.upstream.received.length;
    const res = await once(a, p.api, 'alpha', req(p.api, [], `/echo?key=${encoded}`));
    expect(res.status).toBe(200);
    expect(a.upstream.received[before]?.url).toBe(`/echo?key=${encodeURIComponent(REAL.query)}`);
    expectCleanEverywhere(a, res.all);
  });

  it('a token hidden in Basic credentials to an out-of-scope host: misuse', async () => {
    await expectRefused(a, () => once(a, p.other, 'alpha', req(p.other, [['Authorization', basicAuth(p.alpha.bearer, 'x')]])), 403, 'GW_TOKEN_SCOPE');
  });

  it('a request written one byte per TCP/TLS write is still checked: misuse caught', async () => {
    const before = a.upstreamCount();
    const t = await tunnel(a, p.other, a.auth('alpha'));
    const bytes = req(p.other, [['Authorization', `Bearer ${p.alpha.bearer}`]]);
    for (const ch of bytes) {
      t.tls.write(ch);
      await new Promise((r) => setImmediate(r));
    }
    const res = await t.wire.response();
    t.close();
    const row = await expectProblem(a, res, 403, 'GW_TOKEN_SCOPE');
    expect(row.decision).toBe('token_misuse');
    expect(a.upstreamCount()).toBe(before);
  });

  it('a token whose secret is out of scope and split over writes in the query: misuse caught', async () => {
    const before = a.upstreamCount();
    const t = await tunnel(a, p.other, a.auth('alpha'));
    const bytes = req(p.other, [], `/echo?key=${p.alpha.query}`);
    for (let i = 0; i < bytes.length; i += 7) {
      t.tls.write(bytes.slice(i, i + 7));
      await new Promise((r) => setImmediate(r));
    }
    const res = await t.wire.response();
    t.close();
    await expectProblem(a, res, 403, 'GW_TOKEN_SCOPE');
    expect(a.upstreamCount()).toBe(before);
  });
});

describe('between sandboxes and bindings', () => {
  it("alpha's tokens on beta's connection are unknown in every placement", async () => {
    const cases: [string, HeaderPairs][] = [
      ['/echo', [['Authorization', `Bearer ${p.alpha.bearer}`]]],
      ['/echo', [['Authorization', basicAuth('acct', p.alpha.basic)]]],
      [`/echo?key=${p.alpha.query}`, []],
      ['/echo', [['x-api-key', p.alpha.header]]],
    ];
    for (const [path, headers] of cases) {
      await expectRefused(a, () => once(a, p.api, 'beta', req(p.api, headers, path)), 403, 'GW_TOKEN_UNKNOWN');
    }
  });

  it("beta's own-scope token is never swapped for alpha, even on beta's host", async () => {
    await expectRefused(a, () => once(a, p.other, 'alpha', req(p.other, [['Authorization', `Bearer ${p.beta.betaOnly}`]])), 403, 'GW_TOKEN_UNKNOWN');
  });

  it('two bindings of one secret in one sandbox never block each other (concurrent tunnels)', async () => {
    const before = a.upstream.received.length;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => once(a, p.api, 'alpha', req(p.api, [['Authorization', `Bearer ${i % 2 === 0 ? p.alpha.bearer : p.alpha.bearer2}`]], `/echo?i=${i}`))),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    const sent = a.upstream.received.slice(before).map((e) => e.headers.authorization);
    expect(sent).toEqual(Array(12).fill(`Bearer ${REAL.bearer}`));
    expectCleanEverywhere(a, ...results.map((r) => r.all));
  });
});

describe('tokens where credentials never go', () => {
  it('in a cookie, the path and the body to an out-of-scope host: forwarded untouched, not refused', async () => {
    const before = a.upstream.received.length;
    const body = `chat history quoting ${p.alpha.bearer}`;
    const res = await once(a, p.other, 'alpha', httpReq('POST', `/echo/${p.alpha.bearer}`, p.other, [['Cookie', `session=${p.alpha.bearer}`], ['Content-Type', 'text/plain']], body));
    await expectForwardedUntouched(res, before, (e) => {
      expect(e.url).toBe(`/echo/${p.alpha.bearer}`);
      expect(e.headers.cookie).toBe(`session=${p.alpha.bearer}`);
      expect(e.body).toBe(body);
    });
    expect(a.rows().at(-1)).toMatchObject({ decision: 'allowed', secrets: [], host: 'other.standin.test' });
  });
});
