import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { startAdv, type Adv } from './setup.js';
import { expectProblem, httpReq, once, type Res } from './wire.js';

// Class 10 — credentials in the path and the body: a value that would reshape the URL, bodies
// over the limit or of a type the scheme cannot place into, and stand-ins sent to other hosts are
// refused before anything leaves; no real value reaches the sandbox, pino or the network log.

const VALUES = { slash: 'real/slash-PATHvalue-Zq81', path: 'real-path-value-Pk27Jx', form: 'real-form-value-Fm55Qr', json: 'real-json-value-Js90Lw' };
let a: Adv;
let api: string;
let other: string;
let t: Record<string, string>;

beforeAll(async () => {
  a = await startAdv({ limits: { maxBodyBytes: 4096 } });
  api = `api.standin.test:${a.upstream.port}`;
  other = `other.standin.test:${a.upstream.port}`;
  const mk = (name: string, scheme: { kind: string; [k: string]: string }, value: string): void =>
    void a.store.createSecret({ name, scheme, hosts: [api], value: new SecretValue(value), actor: 'adv' });
  mk('path-slash', { kind: 'path' }, VALUES.slash);
  mk('path-ok', { kind: 'path' }, VALUES.path);
  mk('form-s', { kind: 'body', format: 'form', field: 'token' }, VALUES.form);
  mk('json-s', { kind: 'body', format: 'json', field: 'auth.key' }, VALUES.json);
  const sb = a.store.createSandbox({
    name: 'mallory',
    allowHosts: [],
    bindings: [
      { env: 'SLASH', secretName: 'path-slash' },
      { env: 'PATH_OK', secretName: 'path-ok' },
      { env: 'FORM', secretName: 'form-s' },
      { env: 'JSON', secretName: 'json-s' },
    ],
    actor: 'adv',
  });
  t = Object.fromEntries(sb.bindings.map((b) => [b.env, b.token]));
});

afterAll(async () => {
  await a.close();
});

function expectClean(...texts: string[]): void {
  const all = [...texts, a.logs(), JSON.stringify(a.rows())];
  for (const text of all) {
    for (const v of Object.values(VALUES)) {
      for (const form of [v, encodeURIComponent(v), Buffer.from(v).toString('base64')]) expect(text).not.toContain(form);
    }
  }
}

async function refused(authority: string, request: string, status: number, code: string, secret?: string): Promise<Res> {
  const before = a.upstream.received.length;
  const res = await once(a, authority, 'mallory', request);
  const row = await expectProblem(a, res, status, code);
  expect(a.upstream.received.length, 'requests that reached the upstream').toBe(before);
  if (secret !== undefined) expect(row.secrets).toEqual([secret]);
  expectClean(res.all);
  return res;
}

describe('path placements', () => {
  it('a value with / is refused, never escaped into another path', async () => {
    await refused(api, httpReq('GET', `/bot${t.SLASH!}/getMe`, api), 502, 'GW_SECRET_UNFIT');
  });

  it('a path stand-in to a host outside the secret is token misuse', async () => {
    await refused(other, httpReq('GET', `/bot${t.PATH_OK!}/getMe`, other), 403, 'GW_TOKEN_SCOPE', 'path-ok@1');
  });

  it('encoded separators around the stand-in stay encoded; the value lands in that one segment', async () => {
    const before = a.upstream.received.length;
    const res = await once(a, api, 'mallory', httpReq('GET', `/x/${t.PATH_OK!}%2F..%2Fadmin/y`, api));
    expect(res.status).toBe(200);
    expect(a.upstream.received[before]?.url).toBe(`/x/${VALUES.path}%2F..%2Fadmin/y`);
    expectClean(res.all);
  });
});

describe('body placements', () => {
  const form = (body: string, extra: [string, string][] = []): string =>
    httpReq('POST', '/echo', api, [['Content-Type', 'application/x-www-form-urlencoded'], ...extra], body);

  it('a body over the limit is refused (declared length), and nothing is forwarded', async () => {
    await refused(api, form(`token=${t.FORM!}&pad=${'x'.repeat(5000)}`), 413, 'GW_BODY_TOO_LARGE', 'form-s@1');
  });

  it('a chunked body that grows past the limit is refused too', async () => {
    const chunk = `token=${t.FORM!}&pad=${'x'.repeat(5000)}`;
    const body = `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    await refused(api, form(body, [['Transfer-Encoding', 'chunked']]), 413, 'GW_BODY_TOO_LARGE', 'form-s@1');
  });

  it('a stand-in in a body type its scheme cannot place into is refused (415)', async () => {
    await refused(api, httpReq('POST', '/echo', api, [['Content-Type', 'text/plain']], `token=${t.FORM!}`), 415, 'GW_BODY_UNSUPPORTED', 'form-s@1');
    await refused(api, httpReq('POST', '/echo', api, [['Content-Type', 'application/json']], `{"auth":{"key":"${t.JSON!}"`), 415, 'GW_BODY_UNSUPPORTED', 'json-s@1');
  });

  it('a body stand-in sent to a host outside the secret is token misuse', async () => {
    const req = httpReq('POST', '/echo', other, [['Content-Type', 'application/json']], `{"auth":{"key":"${t.JSON!}"}}`);
    await refused(other, req, 403, 'GW_TOKEN_SCOPE', 'json-s@1');
  });

  it('a reflected body value comes back as the stand-in; the field is swapped exactly once', async () => {
    const before = a.upstream.received.length;
    const res = await once(a, api, 'mallory', form(`token=${t.FORM!}&token=${t.FORM!}x&note=${t.FORM!}`));
    expect(res.status).toBe(200);
    // A malformed token (extra characters) in the same field is never a partial match.
    expect(a.upstream.received[before]?.body).toBe(`token=${VALUES.form}&token=${t.FORM!}x&note=${t.FORM!}`);
    expect(res.text).toContain(`token=${t.FORM!}&`);
    expectClean(res.all);
  });
});
