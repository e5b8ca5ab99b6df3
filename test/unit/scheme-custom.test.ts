import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { SecretValue } from '../../src/secret-value.js';
import { planSwaps, type SwapDeps } from '../../src/swap/plan.js';
import { formatSchemeSpec, parseSchemeList, parseSchemeSpec } from '../../src/swap/scheme-spec.js';
import { schemeFor } from '../../src/swap/schemes/index.js';
import { generateToken } from '../../src/model/token-format.js';
import type { SchemeSpec, SecretInfo } from '../../src/model/secrets.js';
import type { HeaderList } from '../../src/model/headers.js';
import { checkScheme } from '../../src/store/validate.js';

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

  it('the store shape check accepts lists and templates and refuses damaged ones', () => {
    expect(checkScheme({ kind: 'multi', placements: [{ kind: 'bearer' }] })).toEqual({ kind: 'bearer' });
    expect(checkScheme({ kind: 'header', header: 'X-A', template: 'T {{value}}' })).toEqual({ kind: 'header', header: 'x-a', template: 'T {{value}}' });
    expect(() => checkScheme({ kind: 'multi', placements: [] })).toThrow(UsageError);
    expect(() => checkScheme({ kind: 'header', header: 'x', template: 'no placeholder' })).toThrow(UsageError);
    expect(() => checkScheme({ kind: 'header', header: 'x', template: 'a\r\n{{value}}' })).toThrow(UsageError);
  });
});

// planSwaps with one secret, to see each scheme as the proxy uses it.
const token = generateToken('ghp_');
function plan(scheme: SchemeSpec, headers: HeaderList, path = '/x') {
  const secret: SecretInfo = {
    id: 'sid', tenant: 'default', name: 's', scheme, hosts: ['h'], provider: null, currentVersion: 1, versions: [1],
    environments: [{ name: 'default', currentVersion: 1, versions: [1] }], createdAt: 0, updatedAt: 0,
  };
  const deps: SwapDeps = {
    resolveToken: (t) => (t === token ? { token, sandboxId: 'sb', env: 'E', secret, version: 1 } : undefined),
    secretValue: () => new SecretValue('REAL-value'),
    inScope: () => true,
  };
  return planSwaps({ requestId: 'r', sandbox: { id: 'sb', tenant: 'default', name: 'sb', environment: 'default', allowHosts: [], createdAt: 0 }, target: { host: 'h', port: 443, kind: 'name' }, method: 'GET', path, headers }, deps);
}

describe('header templates', () => {
  const spec = parseSchemeSpec('header:x-auth=Token {{value}}');
  it('renders the template whether the sandbox sent the bare token or the rendered template', () => {
    for (const sent of [token, `Token ${token}`]) {
      const r = plan(spec, [['X-Auth', sent]]);
      if (!r.ok) throw new Error(r.error.code);
      expect(r.plan.headers).toEqual([['X-Auth', 'Token REAL-value']]);
      expect(r.plan.reflections).toEqual(expect.arrayContaining([{ real: 'Token REAL-value', standIn: sent }, { real: 'REAL-value', standIn: token }]));
    }
  });

  it('refuses the token in the header with other text around it', () => {
    for (const sent of [`Bearer ${token}`, `Token ${token} extra`]) {
      const r = plan(spec, [['X-Auth', sent]]);
      expect(r.ok ? 'ok' : r.error.code).toBe('GW_TOKEN_PLACEMENT');
    }
  });

  it('describes itself without the value', () => {
    expect(schemeFor(spec).describe()).toBe('x-auth: Token [secret]');
  });
});

describe('basic with a fixed user', () => {
  const spec = parseSchemeSpec('basic:x-access-token');
  it.each([`anyone:${token}`, `x-access-token:${token}`, `${token}:`, token])('sends user:value for %s', (pair) => {
    const r = plan(spec, [['Authorization', `Basic ${b64(pair)}`]]);
    if (!r.ok) throw new Error(r.error.code);
    expect(r.plan.headers).toEqual([['Authorization', `Basic ${b64('x-access-token:REAL-value')}`]]);
    expect(r.plan.reflections).toContainEqual({ real: b64('x-access-token:REAL-value'), standIn: b64(pair) });
  });

  it('refuses a token that is neither the password nor the whole pair', () => {
    const r = plan(spec, [['Authorization', `Basic ${b64(`${token}:other`)}`]]);
    expect(r.ok ? 'ok' : r.error.code).toBe('GW_TOKEN_PLACEMENT');
  });
});

describe('several placements', () => {
  const spec = parseSchemeSpec('bearer,basic:x-access-token,query:key');
  it('accepts the token in any of them and applies the matching one', () => {
    const bearer = plan(spec, [['Authorization', `Bearer ${token}`]]);
    expect(bearer.ok && bearer.plan.headers).toEqual([['Authorization', 'Bearer REAL-value']]);
    const basic = plan(spec, [['Authorization', `Basic ${b64(`git:${token}`)}`]]);
    expect(basic.ok && basic.plan.headers).toEqual([['Authorization', `Basic ${b64('x-access-token:REAL-value')}`]]);
    const query = plan(spec, [], `/x?key=${token}`);
    expect(query.ok && query.plan.path).toBe('/x?key=REAL-value');
  });

  it('refuses a place none of them owns', () => {
    const r = plan(spec, [['X-Api-Key', token]]);
    expect(r.ok ? 'ok' : r.error.code).toBe('GW_TOKEN_PLACEMENT');
  });
});
