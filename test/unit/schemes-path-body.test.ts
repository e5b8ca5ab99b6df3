import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import type { HeaderList } from '../../src/model/headers.js';
import type { TokenResolution } from '../../src/model/secrets.js';
import { generateToken } from '../../src/model/token-format.js';
import { jsonStringSpans } from '../../src/swap/json-spans.js';
import { formatSchemeSpec, parseSchemeSpec } from '../../src/swap/scheme-spec.js';
import { codeOf, run, sandbox, secret, type Req, type World } from './pipeline-kit.js';

const bot = generateToken('bot-');
const form = generateToken('xoxb-');
const json = generateToken();
const plain = generateToken('sk-');
const other = generateToken();
const foreign = generateToken();
const res = (token: string, name: string, scheme: string, sb = 'sb1', hosts = ['api.example.com']): [string, TokenResolution] => [
  token,
  { token, sandboxId: sb, env: name.toUpperCase(), secret: secret(name, parseSchemeSpec(scheme), hosts), version: 3 },
];
const world: World = {
  sandboxes: [sandbox('sb1'), sandbox('sb2')],
  tokens: new Map([
    res(bot, 'telegram', 'path'),
    res(form, 'slack', 'body:form:token'),
    res(json, 'svc', 'body:json:auth.key'),
    res(plain, 'openai', 'bearer'),
    res(other, 'elsewhere', 'body:form:token', 'sb1', ['other.example.com']),
    res(foreign, 'telegram', 'path', 'sb2'),
  ]),
  values: { 'id-telegram': '123456:AA-bb_cc', 'id-slack': 'xoxb-REAL&=+ 1', 'id-svc': 'REAL"json\\', 'id-openai': 'REAL-BEARER', 'id-elsewhere': 'REAL-ELSEWHERE' },
};
const go = (r: Req, w: World = world) => run(w, r);
const post = (contentType: string, body: string, over: Req = {}): Req => ({
  method: 'POST',
  body: Buffer.from(body),
  ...over,
  headers: [['Content-Type', contentType], ['Content-Length', String(Buffer.byteLength(body))], ...(over.headers ?? [])],
});
const sentBody = async (r: Req): Promise<string> => {
  const out = await go(r);
  if (!out.ok) throw new Error(out.error.code);
  return out.fwd.body?.toString() ?? '';
};
const header = (h: HeaderList, name: string): string | undefined => h.find(([n]) => n.toLowerCase() === name)?.[1];

describe('scheme text forms', () => {
  it('parses and formats path and body placements', () => {
    for (const s of ['path', 'body:form:token', 'body:json:auth.key', 'body:form:auth[token]', 'path,bearer']) expect(formatSchemeSpec(parseSchemeSpec(s))).toBe(s);
    for (const s of ['path:x', 'body', 'body:form', 'body:xml:a', 'body:json:a..b', 'body:json:', 'body:form:a b']) expect(() => parseSchemeSpec(s)).toThrow(UsageError);
  });
});

describe('path scheme', () => {
  it('replaces a stand-in that is part of a segment, percent-encoding as a segment needs', async () => {
    const out = await go({ path: `/bot${bot}/getMe?x=1` });
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.path).toBe('/bot123456:AA-bb_cc/getMe?x=1');
    expect(out.ex.applied).toEqual([{ secretId: 'id-telegram', secretName: 'telegram', version: 3, placement: 'path segment [secret]' }]);
    // The log row's path has the segment redacted: neither the stand-in nor the value.
    expect(out.ex.path).toBe('/[redacted]/getMe?x=[redacted]');
    expect(out.fwd.reflections.some((r) => r.real === '123456:AA-bb_cc')).toBe(true);
  });

  it('a whole segment, and values that need escaping', async () => {
    const w: World = { ...world, values: { ...world.values, 'id-telegram': 'a b%é' } };
    const out = await go({ path: `/v1/${bot}` }, w);
    expect(out.ok && out.fwd.path).toBe('/v1/a%20b%25%C3%A9');
  });

  it('refuses a value with / ? # CR or LF, naming the secret', async () => {
    for (const v of ['a/b', 'a?b', 'a#b', 'a\rb', 'a\nb']) {
      const out = await go({ path: `/bot${bot}/getMe` }, { ...world, values: { ...world.values, 'id-telegram': v } });
      expect(codeOf(out)).toBe('GW_SECRET_UNFIT');
      expect(out.ex.secrets).toEqual(['telegram@3']);
    }
  });

  it('out of scope: token misuse; another sandbox\'s or another scheme\'s token in a path: left alone', async () => {
    const evil = { host: 'evil.example.com', port: 443, kind: 'name' as const };
    const out = await go({ path: `/bot${bot}/getMe`, target: evil });
    expect(codeOf(out)).toBe('GW_TOKEN_SCOPE');
    expect(out.ex.secrets).toEqual(['telegram@3']);
    for (const t of [foreign, plain, `${bot}x`]) {
      const left = await go({ path: `/a/${t}/b` });
      expect(left.ok && left.fwd.path).toBe(`/a/${t}/b`);
      expect(left.ex.decision).toBe('allowed');
    }
  });

  it('never over cleartext', async () => {
    const out = await go({ protocol: 'http', path: `/bot${bot}/getMe`, target: { host: 'api.example.com', port: 80, kind: 'name' } });
    expect(codeOf(out)).toBe('GW_TOKEN_CLEARTEXT');
  });
});

describe('body schemes', () => {
  it('form: replaces the field, keeps the rest byte for byte, recomputes Content-Length', async () => {
    const out = await go(post('application/x-www-form-urlencoded', `channel=C1&token=${form}&text=hi+there%21`));
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.body?.toString()).toBe('channel=C1&token=xoxb-REAL%26%3D%2B+1&text=hi+there%21');
    expect(header(out.fwd.headers, 'content-length')).toBe(String(out.fwd.body?.length));
    expect(out.ex.applied[0]).toMatchObject({ secretName: 'slack', placement: 'form field token=[secret]' });
    expect(out.fwd.reflections.some((r) => r.real === 'xoxb-REAL%26%3D%2B+1')).toBe(true);
  });

  it('form: a stand-in in another field is left alone (a quoted history), in the field swapped', async () => {
    const body = await sentBody(post('application/x-www-form-urlencoded', `text=see+${form}&token=${form}`));
    expect(body).toBe(`text=see+${form}&token=xoxb-REAL%26%3D%2B+1`);
  });

  it('multipart: replaces the named part only, binary parts untouched', async () => {
    const bin = Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x2d, 0x2d]);
    const parts = Buffer.concat([
      Buffer.from(`--XyZ\r\nContent-Disposition: form-data; name="token"\r\n\r\n${form}\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n`),
      bin,
      Buffer.from(`\r\n--XyZ--\r\n`),
    ]);
    const out = await go({ method: 'POST', body: parts, headers: [['Content-Type', 'multipart/form-data; boundary=XyZ'], ['Content-Length', String(parts.length)]] });
    if (!out.ok) throw new Error(out.error.code);
    const expected = Buffer.from(parts.toString('latin1').replace(form, 'xoxb-REAL&=+ 1'), 'latin1');
    expect(out.fwd.body?.equals(expected)).toBe(true);
  });

  it('json: the string at the dotted path, escaped as JSON; numbers and layout kept', async () => {
    const src = `{"n": 12345678901234567890, "auth": {"key": "${json}"}, "history": ["${json}"]}`;
    const body = await sentBody(post('application/json; charset=utf-8', src));
    expect(body).toBe(`{"n": 12345678901234567890, "auth": {"key": "REAL\\"json\\\\"}, "history": ["${json}"]}`);
    expect(JSON.parse(body).auth.key).toBe('REAL"json\\');
  });

  it('refuses a body over the limit (413) and names the secret; nothing is read past it', async () => {
    const big = `token=${form}&pad=${'x'.repeat(2000)}`;
    const out = await go(post('application/x-www-form-urlencoded', big));
    expect(codeOf(out)).toBe('GW_BODY_TOO_LARGE');
    expect(out.ex.secrets).toEqual(['slack@3']);
    // Chunked (no declared length): refused when the read passes the limit.
    const chunked = await go({ method: 'POST', body: Buffer.from(big), headers: [['Content-Type', 'application/x-www-form-urlencoded'], ['Transfer-Encoding', 'chunked']] });
    expect(codeOf(chunked)).toBe('GW_BODY_TOO_LARGE');
  });

  it('refuses a stand-in in a body its scheme cannot place into (another type, or malformed JSON)', async () => {
    expect(codeOf(await go(post('text/plain', `token=${form}`)))).toBe('GW_BODY_UNSUPPORTED');
    expect(codeOf(await go(post('application/json', `{"token": "${form}"}`)))).toBe('GW_BODY_UNSUPPORTED');
    expect(codeOf(await go(post('application/json', `{"auth": {"key": "${json}"`)))).toBe('GW_BODY_UNSUPPORTED');
    // Without the stand-in such a body is forwarded as it came.
    expect(await sentBody(post('text/plain', 'hello'))).toBe('hello');
  });

  it('out of scope: a body stand-in is token misuse; a large body elsewhere streams unread', async () => {
    const cdn = { host: 'other.example.com', port: 443, kind: 'name' as const };
    const out = await go({ ...post('application/x-www-form-urlencoded', `token=${form}`), target: cdn });
    expect(codeOf(out)).toBe('GW_TOKEN_SCOPE');
    expect(out.ex.secrets).toEqual(['slack@3']);
    const big = await go({ ...post('application/octet-stream', 'x'.repeat(5000)), target: { ...cdn, host: 'cdn.example.net' } });
    expect(big.ok && big.fwd.body).toBeUndefined();
  });

  it('a sandbox without body schemes never has its body read', async () => {
    const w: World = { ...world, sandboxes: [sandbox('sb3')], tokens: new Map([res(plain, 'openai', 'bearer', 'sb3')]) };
    const out = await go({ ...post('application/x-www-form-urlencoded', `token=${form}`), sandbox: sandbox('sb3') }, w);
    expect(out.ok && out.fwd.body).toBeUndefined();
  });

  it('header and body placements together in one request', async () => {
    const out = await go(post('application/json', `{"auth":{"key":"${json}"}}`, { headers: [['Authorization', `Bearer ${plain}`]] }));
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.body?.toString()).toBe('{"auth":{"key":"REAL\\"json\\\\"}}');
    expect(header(out.fwd.headers, 'authorization')).toBe('Bearer REAL-BEARER');
    expect(out.ex.secrets.sort()).toEqual(['openai@3', 'svc@3']);
  });
});

describe('json string spans', () => {
  it('gives every value string its dotted path, keys none, and refuses what is not JSON or too deep', () => {
    const spans = jsonStringSpans('{"a":[1,"x",{"b":"y"}],"c":"z"}') ?? [];
    expect(spans.filter((s) => s.path !== null).map((s) => s.path)).toEqual(['a.1', 'a.2.b', 'c']);
    expect(jsonStringSpans('{"a":')).toBeUndefined();
    expect(jsonStringSpans(`${'['.repeat(300)}"x"${']'.repeat(300)}`)).toBeUndefined();
    expect(jsonStringSpans('"top"')?.[0]?.path).toBe('');
  });
});

describe('serve --max-body-bytes', () => {
  it('is the gateway default (1 MiB) when not given, an integer from 1024 to 1 GiB when given', async () => {
    const { parseServeOptions } = await import('../../src/cli/serve-options.js');
    const base = { listen: '127.0.0.1:8877', upstreamCa: [], resolve: [], allowDest: [], logLevel: 'info' };
    expect(parseServeOptions(base).maxBodyBytes).toBeUndefined();
    expect(parseServeOptions({ ...base, maxBodyBytes: '4096' }).maxBodyBytes).toBe(4096);
    for (const bad of ['0', '1023', 'x', '1.5', String(1024 ** 3 + 1)]) expect(() => parseServeOptions({ ...base, maxBodyBytes: bad }), bad).toThrow(/max-body-bytes/);
  });
});
