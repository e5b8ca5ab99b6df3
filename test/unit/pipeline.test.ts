import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseSchemeSpec as parseSchemeSpecWith } from '../../src/swap/scheme-spec.js';
import { findTokens } from '../../src/swap/find-tokens.js';
import { STEPS } from '../../src/exchange/pipeline.js';
import { logExchange, toNetLogRow } from '../../src/exchange/log-row.js';
import { generateToken } from '../../src/model/token-format.js';
import type { TokenResolution } from '../../src/model/secrets.js';
import type { HeaderList } from '../../src/model/headers.js';
import type { NetLogRow } from '../../src/netlog/types.js';
import { createRegistry, register, SCHEMES } from '../../src/swap/schemes/registry.js';
import type { SchemeDefinition } from '../../src/swap/schemes/scheme.js';
import { codeOf, run, sandbox, secret, type Req, type World } from './pipeline-kit.js';
const bearer = generateToken('sk-');
const header = generateToken();
const basic = generateToken();
const query = generateToken();
const foreign = generateToken();
const table = new Map<string, TokenResolution>([
  [bearer, { token: bearer, sandboxId: 'sb1', env: 'A', secret: secret('openai', { kind: 'bearer' }), version: 3 }],
  [header, { token: header, sandboxId: 'sb1', env: 'B', secret: secret('anthropic', { kind: 'header', header: 'x-api-key' }), version: 3 }],
  [basic, { token: basic, sandboxId: 'sb1', env: 'C', secret: secret('twilio', { kind: 'basic' }), version: 3 }],
  [query, { token: query, sandboxId: 'sb1', env: 'D', secret: secret('maps', { kind: 'query', param: 'key' }), version: 3 }],
  [foreign, { token: foreign, sandboxId: 'sb2', env: 'A', secret: secret('openai', { kind: 'bearer' }), version: 3 }],
]);
const values: Record<string, string> = { 'id-openai': 'REAL-BEARER', 'id-anthropic': 'REAL-HEADER', 'id-twilio': 'REAL-PASS', 'id-maps': 'REAL QUERY/&' };
const world: World = { sandboxes: [sandbox('sb1'), sandbox('sb2')], tokens: table, values };
const go = (r: Req, w: World = world) => run(w, r);
const sent = (headers: HeaderList): HeaderList => headers.filter(([n]) => n !== 'Host');

describe('findTokens', () => {
  it('finds tokens in headers, Basic credentials and decoded query values, not in cookies or paths', () => {
    const found = findTokens(
      [['Authorization', `Basic ${Buffer.from(`user:${basic}`).toString('base64')}`], ['X-Api-Key', header], ['Cookie', `c=${bearer}`]],
      `/p/${bearer}?a=1&key=${encodeURIComponent(query)}`,
    );
    expect(found.map((f) => [f.token, f.location.kind])).toEqual([[basic, 'basic'], [header, 'header'], [query, 'query']]);
  });

  it('widens to the provider prefix and marks extra characters as malformed', () => {
    expect(findTokens([['a', `Bearer ${bearer}`]], '/')[0]).toMatchObject({ token: bearer, malformed: false });
    expect(findTokens([['a', `${bearer}0`]], '/')[0]?.malformed).toBe(true);
    expect(findTokens([['a', `${bearer}-x`]], '/')[0]?.malformed).toBe(true);
    expect(findTokens([['a', `x${bearer}`]], '/')[0]?.token).toBe(`x${bearer}`);
    expect(findTokens([['a', bearer.slice(0, -1)]], '/')).toEqual([]);
  });

  it('finds tokens in joined duplicate headers on boundaries', () => {
    expect(findTokens([['x-api-key', `one, ${header}`]], '/').map((f) => f.token)).toEqual([header]);
  });
});

describe('pipeline: the steps and their order', () => {
  it('runs the steps the design names, signing last', () => {
    expect(STEPS.map((s) => s.name)).toEqual([
      'request checks', 'sandbox refresh', 'egress', 'find stand-ins', 'plan', 'credentials', 'reflection guard', 'header finishing', 'signing',
    ]);
  });
});

describe('pipeline: request checks', () => {
  it.each<[string, Req, string]>([
    ['HTTP/1.0 with Transfer-Encoding', { httpVersion: '1.0', headers: [['Transfer-Encoding', 'chunked']] }, 'GW_HTTP_VERSION'],
    ['HTTP/0.9', { httpVersion: '0.9' }, 'GW_HTTP_VERSION'],
    ['TRACE', { method: 'TRACE' }, 'GW_METHOD_DENIED'],
    ['absolute-form inside a tunnel', { path: 'https://other.example/x' }, 'GW_HOST_MISMATCH'],
    ['asterisk-form', { path: '*' }, 'GW_BAD_REQUEST'],
    ['no Host', { host: false }, 'GW_HOST_MISMATCH'],
    ['another Host', { host: false, headers: [['Host', 'evil.example.com']] }, 'GW_HOST_MISMATCH'],
    ['a second Host, even the same one (RFC 9112 §3.2: 400)', { headers: [['Host', 'api.example.com']] }, 'GW_BAD_REQUEST'],
    ['Host with userinfo', { host: false, headers: [['Host', 'api.example.com@evil.example']] }, 'GW_HOST_MISMATCH'],
    ['two Authorization headers', { headers: [['Authorization', 'a'], ['authorization', 'b']] }, 'GW_BAD_REQUEST'],
  ])('refuses %s', async (_what, req, code) => {
    const out = await go(req);
    expect(codeOf(out)).toBe(code);
    expect(out.ex.decision).toBe('denied');
  });

  it('forwards a request without stand-ins untouched, hop-by-hop fields stripped', async () => {
    const cdn = { host: 'cdn.example.net', port: 443, kind: 'name' as const };
    const out = await go({ target: cdn, headers: [['X-A', '1'], ['Connection', 'x-b'], ['X-B', '2'], ['Proxy-Authorization', 'Basic x'], ['Keep-Alive', '5']] });
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.headers).toEqual([['Host', 'cdn.example.net'], ['X-A', '1']]);
    expect(out.fwd).toMatchObject({ tls: true, method: 'GET', path: '/v1', scrubber: undefined, expectsContinue: false });
    expect(out.ex.decision).toBe('allowed');
  });
});

describe('pipeline: sandbox refresh and egress', () => {
  it('a sandbox deleted since the tunnel opened is refused (407)', async () => {
    const out = await go({ sandbox: sandbox('gone') });
    expect(codeOf(out)).toBe('GW_PROXY_AUTH');
  });

  it('a policy narrowed since CONNECT applies to the next request', async () => {
    const narrowed: World = { ...world, sandboxes: [sandbox('sb1', { allowHosts: ['other.example.com'] })] };
    expect(codeOf(await go({}, narrowed))).toBe('GW_EGRESS_DENIED');
    const wide: World = { ...world, sandboxes: [sandbox('sb1', { allowHosts: ['*.example.com'] })] };
    expect(codeOf(await go({}, wide))).toBe('forwarded');
  });

  it('plain HTTP resolves and checks its destination in the egress step', async () => {
    const plain = { protocol: 'http' as const, target: { host: 'site.example.org', port: 80, kind: 'name' as const }, host: false };
    const priv: World = { ...world, lookup: async () => [{ address: '10.0.0.8', family: 4 }] };
    expect(codeOf(await go(plain, priv))).toBe('GW_PRIVATE_ADDRESS');
    const meta: World = { ...world, lookup: async () => [{ address: '169.254.169.254', family: 4 }] };
    expect(codeOf(await go(plain, meta))).toBe('GW_PRIVATE_ADDRESS');
    const ok = await go({ ...plain, headers: [['Host', 'liar.example']] });
    if (!ok.ok) throw new Error(ok.error.code);
    expect(ok.fwd.tls).toBe(false);
    expect(ok.fwd.address.address).toBe('93.184.216.34');
    // RFC 9112 §3.2.2: the absolute URL's authority, whatever Host said.
    expect(ok.fwd.headers).toEqual([['Host', 'site.example.org']]);
  });

  it('never swaps over cleartext, naming the secret', async () => {
    const out = await go({ protocol: 'http', target: { host: 'api.example.com', port: 80, kind: 'name' }, host: false, headers: [['Authorization', `Bearer ${bearer}`]] });
    expect(codeOf(out)).toBe('GW_TOKEN_CLEARTEXT');
    expect(out.ex.secrets).toEqual(['openai@3']);
  });
});

describe('pipeline: plan and credentials', () => {
  it('applies each scheme in its own place and records secret@version, never values', async () => {
    const out = await go({ headers: [['Authorization', `Bearer ${bearer}`], ['x-api-key', header]], path: `/v1?x=1&key=${query}` });
    if (!out.ok) throw new Error(out.error.code);
    expect(sent(out.fwd.headers)).toEqual([['Authorization', 'Bearer REAL-BEARER'], ['x-api-key', 'REAL-HEADER']]);
    expect(out.fwd.path).toBe(`/v1?x=1&key=${encodeURIComponent('REAL QUERY/&')}`);
    expect([...out.ex.secrets].sort()).toEqual(['anthropic@3', 'maps@3', 'openai@3']);
    expect(out.ex.decision).toBe('swapped');
    expect(out.ex.applied.map((a) => a.placement).sort()).toEqual(['?key=[secret]', 'Authorization: Bearer [secret]', 'x-api-key: [secret]']);
    const row: NetLogRow = toNetLogRow(out.ex, 5);
    expect(JSON.stringify(row)).not.toMatch(/REAL/);
    expect(JSON.stringify(out.ex)).not.toMatch(/REAL/);
    expect(row).toMatchObject({ decision: 'swapped', host: 'api.example.com', port: 443, upstreamIp: '93.184.216.34', path: '/v1?x=[redacted]&key=[redacted]' });
  });

  it('basic: a bare value replaces the token inside the pair, and the pair is scrubbed', async () => {
    const pair = Buffer.from(`AC123:${basic}`).toString('base64');
    const out = await go({ headers: [['authorization', `Basic ${pair}`]] });
    if (!out.ok) throw new Error(out.error.code);
    const swapped = Buffer.from('AC123:REAL-PASS').toString('base64');
    expect(sent(out.fwd.headers)[0]).toEqual(['authorization', `Basic ${swapped}`]);
    expect(out.fwd.reflections).toContainEqual({ real: swapped, standIn: pair });
  });

  it('refuses out-of-scope tokens as token misuse, naming the secret', async () => {
    const evil = { host: 'evil.example.com', port: 443, kind: 'name' as const };
    const out = await go({ target: evil, headers: [['Authorization', `Bearer ${bearer}`]] });
    expect(codeOf(out)).toBe('GW_TOKEN_SCOPE');
    expect(out.ex.decision).toBe('token_misuse');
    expect(out.ex.secrets).toEqual(['openai@3']);
  });

  it('refuses foreign, unknown and malformed tokens', async () => {
    for (const h of [`Bearer ${foreign}`, `Bearer standin_${'Z'.repeat(32)}`, `Bearer ${bearer}extra`]) {
      expect(codeOf(await go({ headers: [['Authorization', h]] })), h).toBe('GW_TOKEN_UNKNOWN');
    }
  });

  it('refuses a token outside its scheme place', async () => {
    const misplaced = await go({ headers: [['x-other', bearer]] });
    expect(codeOf(misplaced)).toBe('GW_TOKEN_PLACEMENT');
    // The log can say where it was (never the stand-in itself).
    expect(misplaced.ex.found).toEqual(['header x-other']);
    expect(toNetLogRow(misplaced.ex, 0).detail?.found).toEqual(['header x-other']);
    expect(codeOf(await go({ path: `/?api_key=${header}` }))).toBe('GW_TOKEN_PLACEMENT');
  });

  it('refuses a secret with no value in the environment, or one that cannot be decrypted', async () => {
    const noVersion = new Map(table);
    noVersion.set(bearer, { ...(table.get(bearer) as TokenResolution), version: null });
    expect(codeOf(await go({ headers: [['Authorization', `Bearer ${bearer}`]] }, { ...world, tokens: noVersion }))).toBe('GW_SECRET_UNAVAILABLE');
    const broken = await go({ headers: [['Authorization', `Bearer ${bearer}`]] }, { ...world, values: {} });
    expect(codeOf(broken)).toBe('GW_SECRET_UNAVAILABLE');
    expect(broken.ex.secrets).toEqual(['openai@3']);
  });

  it('never changes what the adapter received', async () => {
    const headers: HeaderList = [['Authorization', `Bearer ${bearer}`]];
    await go({ headers });
    expect(headers[0]?.[1]).toBe(`Bearer ${bearer}`);
  });
});

describe('pipeline: reflection guard', () => {
  it('scrubs the swapped value and every other secret of the sandbox scoped to the host', async () => {
    const out = await go({ headers: [['Authorization', `Bearer ${bearer}`]] });
    if (!out.ok) throw new Error(out.error.code);
    const reals = out.fwd.reflections.map((r) => r.real);
    expect(reals).toEqual(expect.arrayContaining(['REAL-BEARER', 'REAL-HEADER', 'REAL-PASS', Buffer.from('REAL-BEARER').toString('base64')]));
    expect(out.fwd.scrubber?.scrubString('x REAL-HEADER y')).toBe(`x ${header} y`);
    expect(out.ex.scrubbed).toBe(true);
  });

  it('a token-less request to a host in scope is still scrubbed; one to another host is not', async () => {
    const inScope = await go({});
    expect(inScope.ok && inScope.fwd.scrubber?.active).toBe(true);
    const elsewhere = await go({ target: { host: 'cdn.example.net', port: 443, kind: 'name' } });
    expect(elsewhere.ok && elsewhere.fwd.scrubber).toBe(undefined);
  });

  it('values of another sandbox are never its business', async () => {
    const out = await go({ sandbox: sandbox('sb2') });
    if (!out.ok) throw new Error(out.error.code);
    // sb2 owns only `foreign` (openai): only that value is scrubbed for it.
    expect(out.fwd.scrubber?.scrubString('REAL-HEADER')).toBe('REAL-HEADER');
    expect(out.fwd.scrubber?.scrubString('REAL-BEARER')).toBe(foreign);
  });
});

describe('pipeline: header finishing', () => {
  it('limits codings to what the scrubber reads when it scrubs', async () => {
    const out = await go({ headers: [['Authorization', `Bearer ${bearer}`], ['Accept-Encoding', 'zstd, gzip;q=0.5, br']] });
    expect(out.ok && sent(out.fwd.headers)).toEqual([['Authorization', 'Bearer REAL-BEARER'], ['Accept-Encoding', 'gzip;q=0.5, br']]);
    const untouched = await go({ target: { host: 'cdn.example.net', port: 443, kind: 'name' }, headers: [['Accept-Encoding', 'zstd']] });
    expect(untouched.ok && sent(untouched.fwd.headers)).toEqual([['Accept-Encoding', 'zstd']]);
  });

  it('answers Expect itself and keeps a chunked body chunked', async () => {
    const out = await go({ method: 'POST', headers: [['Expect', '100-continue'], ['Transfer-Encoding', 'chunked']] });
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.expectsContinue).toBe(true);
    expect(sent(out.fwd.headers)).toEqual([['Transfer-Encoding', 'chunked']]);
  });

  it('a WebSocket handshake gets its upgrade fields, and no extensions when scrubbed', async () => {
    const out = await go({ protocol: 'websocket', headers: [['Sec-WebSocket-Extensions', 'permessage-deflate'], ['Sec-WebSocket-Key', 'k']] });
    expect(out.ok && sent(out.fwd.headers)).toEqual([['Sec-WebSocket-Key', 'k'], ['Connection', 'Upgrade'], ['Upgrade', 'websocket']]);
  });
});

describe('pipeline: a scheme that reads the body and signs (registered like any other)', () => {
  // A test-only scheme: the token in `x-sig-key`; the body gets the value, the request a signature.
  interface SigPlacement { kind: 'testsig'; [field: string]: unknown }
  const testsig: SchemeDefinition<SigPlacement> = {
    kind: 'testsig',
    parse: () => ({ kind: 'testsig' }),
    format: () => 'testsig',
    normalize: () => ({ kind: 'testsig' }),
    samePlace: () => true,
    create: () => ({
      needsBody: 64,
      accepts: (_req, found) => found.location.kind === 'header' && found.location.name === 'x-sig-key',
      async apply(req, found, value) {
        await new Promise((r) => setTimeout(r, 1));
        req.body = Buffer.from(`${req.body?.toString() ?? ''}|${value}`);
        req.headers = req.headers.filter(([n]) => n.toLowerCase() !== 'x-sig-key');
        req.addSigner((signed) => {
          signed.headers.push(['X-Signature', `${signed.method} ${signed.path} ${signed.headers.map(([n]) => n).join(',')} ${signed.body?.length ?? 0}`]);
        });
        return [{ real: `|${value}`, standIn: `|${found.token}` }];
      },
      describe: () => 'signed body',
    }),
  };
  const schemes = createRegistry([...SCHEMES.values(), register(testsig)]);
  const sig = generateToken();
  const s = secret('signer', { kind: 'testsig' });
  const w: World = { sandboxes: [sandbox()], tokens: new Map([[sig, { token: sig, sandboxId: 'sb1', env: 'S', secret: s, version: 3 }]]), values: { [s.id]: 'REAL-SIG' }, schemes };

  it('reads the body, places the value, recomputes Content-Length, and signs the finished head last', async () => {
    const out = await run(w, { method: 'POST', path: '/up?q=1', headers: [['X-Sig-Key', sig], ['Content-Length', '5'], ['Accept-Encoding', 'zstd']], body: Buffer.from('hello') });
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.body?.toString()).toBe('hello|REAL-SIG');
    // The signer saw the head as it leaves: Content-Length recomputed and codings limited before it ran.
    expect(sent(out.fwd.headers)).toEqual([['Accept-Encoding', 'identity'], ['Content-Length', '14'], ['X-Signature', 'POST /up?q=1 Host,Accept-Encoding,Content-Length 14']]);
    expect(out.ex.applied).toEqual([{ secretId: s.id, secretName: 'signer', version: 3, placement: 'signed body' }]);
  });

  it('a body over the limit is refused before anything is sent', async () => {
    const out = await run(w, { method: 'POST', headers: [['X-Sig-Key', sig]], body: Buffer.alloc(65) });
    expect(codeOf(out)).toBe('GW_BODY_TOO_LARGE');
  });

  it('the registry gives the new kind its text form; the default registry does not know it', () => {
    expect(() => parseSchemeSpecWith('testsig', SCHEMES)).toThrow(UsageError);
    expect(parseSchemeSpecWith('testsig,bearer', schemes)).toEqual({ kind: 'multi', placements: [{ kind: 'testsig' }, { kind: 'bearer' }] });
  });
});

describe('log rows', () => {
  it('are derived from the exchange once, however often it ends', async () => {
    const out = await go({ headers: [['Authorization', `Bearer ${bearer}`]] });
    const rows: NetLogRow[] = [];
    const netlog = { record: (r: NetLogRow) => rows.push(r), flush: () => undefined, pending: () => 0, close: () => undefined };
    logExchange(out.ex, netlog, 10);
    logExchange(out.ex, netlog, 20);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ sandbox: 'sb1', tenant: 'default', decision: 'swapped', secrets: ['openai@3'], durationMs: 10, scheme: 'https' });
  });
});
