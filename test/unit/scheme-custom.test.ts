import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { formatSchemeSpec, normalizeSchemeSpec, parseSchemeList, parseSchemeSpec, schemeFor } from '../../src/swap/scheme-spec.js';
import { generateToken } from '../../src/model/token-format.js';
import type { SchemeSpec } from '../../src/model/secrets.js';
import type { HeaderList } from '../../src/model/headers.js';
import { checkScheme } from '../../src/store/validate.js';
import { run, sandbox, secret as secretOf } from './pipeline-kit.js';

const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');

describe('scheme syntax', () => {
  it('parses and formats every placement, round trip', () => {
    for (const text of [
      'bearer', 'basic', 'basic:x-access-token', 'header:x-api-key', 'header:x-auth=Token {{value}}',
      'header:authorization=Bot {{value}}', 'query:key', 'bearer,basic:x-access-token', 'header:private-token,bearer,basic',
    ]) {
      expect(formatSchemeSpec(parseSchemeSpec(text))).toBe(text);
    }
  });

  it('keeps old single-placement specs as they were', () => {
    expect(parseSchemeSpec('Bearer')).toEqual({ kind: 'bearer' });
    expect(parseSchemeSpec('header:X-Api-Key')).toEqual({ kind: 'header', header: 'x-api-key' });
    expect(parseSchemeSpec('query:key')).toEqual({ kind: 'query', param: 'key' });
  });

  it('lists come from commas or repeated flags; a template may hold a comma', () => {
    const both = { kind: 'multi', placements: [{ kind: 'bearer' }, { kind: 'basic' }] };
    expect(parseSchemeSpec('bearer, basic')).toEqual(both);
    expect(parseSchemeList(['bearer', 'basic'])).toEqual(both);
    expect(parseSchemeSpec('header:x-auth=a,b {{value}},query:k')).toEqual({
      kind: 'multi',
      placements: [{ kind: 'header', header: 'x-auth', template: 'a,b {{value}}' }, { kind: 'query', param: 'k' }],
    });
  });

  it.each([
    ['', 'empty scheme'],
    ['bearer,', 'empty scheme'],
    ['header:x-auth=Token', 'exactly once'],
    ['header:x-auth={{value}}{{value}}', 'exactly once'],
    ['header:x-auth=Tök {{value}}', 'printable'],
    ['header:authorization', 'needs a template'],
    ['header:cookie={{value}}', 'not allowed'],
    ['header:proxy-authorization={{value}}', 'not allowed'],
    ['basic:a:b', 'Basic user'],
    ['bearer,bearer', 'twice'],
    ['header:x-a,header:X-A={{value}}', 'twice'],
    ['digest', 'unknown scheme'],
    ['query:', 'query parameter'],
  ])('refuses %j', (text, message) => {
    expect(() => parseSchemeSpec(text)).toThrow(UsageError);
    expect(() => parseSchemeSpec(text)).toThrow(message);
  });

  it('each kind checks specs that did not come from text, and lists and templates survive', () => {
    expect(normalizeSchemeSpec({ kind: 'multi', placements: [{ kind: 'bearer' }] })).toEqual({ kind: 'bearer' });
    expect(normalizeSchemeSpec({ kind: 'header', header: 'X-A', template: 'T {{value}}' })).toEqual({ kind: 'header', header: 'x-a', template: 'T {{value}}' });
    expect(() => normalizeSchemeSpec({ kind: 'multi', placements: [] })).toThrow(UsageError);
    expect(() => normalizeSchemeSpec({ kind: 'header', header: 'x', template: 'no placeholder' })).toThrow(UsageError);
    expect(() => normalizeSchemeSpec({ kind: 'header', header: 'x', template: 'a\r\n{{value}}' })).toThrow(UsageError);
    expect(() => normalizeSchemeSpec({ kind: 'header', header: 'cookie' })).toThrow(UsageError);
    expect(() => normalizeSchemeSpec({ kind: 'digest' })).toThrow(UsageError);
  });

  it('the store keeps only the generic shape: a kind, string fields, or a non-empty list', () => {
    expect(checkScheme({ kind: 'multi', placements: [{ kind: 'bearer' }] })).toEqual({ kind: 'bearer' });
    expect(checkScheme({ kind: 'basic', user: null })).toEqual({ kind: 'basic' });
    expect(() => checkScheme({ kind: 'multi', placements: [] })).toThrow(UsageError);
    expect(() => checkScheme({ kind: 'header', header: 7 })).toThrow(UsageError);
    expect(() => checkScheme({ kind: '' })).toThrow(UsageError);
  });

  it('a stored placement of an unknown or damaged kind accepts no token (fails closed)', () => {
    expect(schemeFor({ kind: 'digest' }).describe()).toBe('invalid scheme');
    expect(schemeFor({ kind: 'header', header: 'cookie' }).describe()).toBe('invalid scheme');
  });
});

// The whole pipeline with one secret, to see each scheme as the proxy uses it.
const token = generateToken('ghp_');
async function plan(scheme: SchemeSpec, headers: HeaderList, path = '/x') {
  const s = secretOf('s', scheme, ['h']);
  const target = { host: 'h', port: 443, kind: 'name' as const };
  const r = await run(
    { sandboxes: [sandbox('sb')], tokens: new Map([[token, { token, sandboxId: 'sb', env: 'E', secret: s, version: 3 }]]), values: { [s.id]: 'REAL-value' } },
    { headers, path, target, sandbox: sandbox('sb') },
  );
  if (!r.ok) return r;
  // What the tests compare: the headers without the Host line every tunnel request carries.
  return { ...r, headers: r.fwd.headers.filter(([n]) => n !== 'Host') };
}

describe('header templates', () => {
  const spec = parseSchemeSpec('header:x-auth=Token {{value}}');
  it('renders the template whether the sandbox sent the bare token or the rendered template', async () => {
    for (const sent of [token, `Token ${token}`]) {
      const r = await plan(spec, [['X-Auth', sent]]);
      if (!r.ok) throw new Error(r.error.code);
      expect(r.headers).toEqual([['X-Auth', 'Token REAL-value']]);
      expect(r.fwd.reflections).toEqual(expect.arrayContaining([{ real: 'Token REAL-value', standIn: sent }, { real: 'REAL-value', standIn: token }]));
    }
  });

  it('refuses the token in the header with other text around it', async () => {
    for (const sent of [`Bearer ${token}`, `Token ${token} extra`]) {
      const r = await plan(spec, [['X-Auth', sent]]);
      expect(r.ok ? 'ok' : r.error.code).toBe('GW_TOKEN_PLACEMENT');
    }
  });

  it('describes itself without the value', () => {
    expect(schemeFor(spec).describe()).toBe('x-auth: Token [secret]');
  });
});

describe('basic with a fixed user', () => {
  const spec = parseSchemeSpec('basic:x-access-token');
  it.each([`anyone:${token}`, `x-access-token:${token}`, `${token}:`, token])('sends user:value for %s', async (pair) => {
    const r = await plan(spec, [['Authorization', `Basic ${b64(pair)}`]]);
    if (!r.ok) throw new Error(r.error.code);
    expect(r.headers).toEqual([['Authorization', `Basic ${b64('x-access-token:REAL-value')}`]]);
    expect(r.fwd.reflections).toContainEqual({ real: b64('x-access-token:REAL-value'), standIn: b64(pair) });
  });

  it('refuses a token that is neither the password nor the whole pair', async () => {
    const r = await plan(spec, [['Authorization', `Basic ${b64(`${token}:other`)}`]]);
    expect(r.ok ? 'ok' : r.error.code).toBe('GW_TOKEN_PLACEMENT');
  });
});

describe('several placements', () => {
  const spec = parseSchemeSpec('bearer,basic:x-access-token,query:key');
  it('accepts the token in any of them and applies the matching one', async () => {
    const bearer = await plan(spec, [['Authorization', `Bearer ${token}`]]);
    expect(bearer.ok && bearer.headers).toEqual([['Authorization', 'Bearer REAL-value']]);
    const basic = await plan(spec, [['Authorization', `Basic ${b64(`git:${token}`)}`]]);
    expect(basic.ok && basic.headers).toEqual([['Authorization', `Basic ${b64('x-access-token:REAL-value')}`]]);
    const query = await plan(spec, [], `/x?key=${token}`);
    expect(query.ok && query.fwd.path).toBe('/x?key=REAL-value');
  });

  it('refuses a place none of them owns', async () => {
    const r = await plan(spec, [['X-Api-Key', token]]);
    expect(r.ok ? 'ok' : r.error.code).toBe('GW_TOKEN_PLACEMENT');
  });
});
