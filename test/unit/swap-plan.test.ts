import { describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { findTokens } from '../../src/swap/find-tokens.js';
import { planSwaps, type SwapDeps } from '../../src/swap/plan.js';
import { generateToken } from '../../src/model/token-format.js';
import type { SecretInfo, TokenResolution, SchemeSpec } from '../../src/model/secrets.js';
import type { Exchange } from '../../src/swap/types.js';
import type { HeaderList } from '../../src/model/headers.js';

function secret(name: string, scheme: SchemeSpec, hosts = ['api.example.com']): SecretInfo {
  return {
    id: `id-${name}`, tenant: 'default', name, scheme, hosts, provider: null, currentVersion: 3, versions: [1, 2, 3],
    environments: [{ name: 'default', currentVersion: 3, versions: [1, 2, 3] }], createdAt: 0, updatedAt: 0,
  };
}

const sandbox = { id: 'sb1', tenant: 'default', name: 'sb', environment: 'default', allowHosts: [], createdAt: 0 };
const target = { host: 'api.example.com', port: 443, kind: 'name' as const };
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
const deps: SwapDeps = {
  resolveToken: (t) => table.get(t),
  secretValue: (id) => new SecretValue(values[id] ?? ''),
  inScope: (hosts, t) => hosts.includes(t.host),
};

function ex(headers: HeaderList, path = '/v1', t = target): Exchange {
  return { requestId: 'r', sandbox, target: t, method: 'GET', path, headers };
}

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

describe('planSwaps', () => {
  it('applies each scheme in its own place', () => {
    const out = planSwaps(ex([
      ['Authorization', `Bearer ${bearer}`],
      ['x-api-key', header],
    ], `/v1?x=1&key=${query}`), deps);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.plan.headers).toEqual([['Authorization', 'Bearer REAL-BEARER'], ['x-api-key', 'REAL-HEADER']]);
    expect(out.plan.path).toBe(`/v1?x=1&key=${encodeURIComponent('REAL QUERY/&')}`);
    expect(out.plan.swaps.map((s) => `${s.secretName}@${s.version}`).sort()).toEqual(['anthropic@3', 'maps@3', 'openai@3']);
  });

  it('basic: a bare value replaces the token inside the pair, and the pair is a reflection', () => {
    const sent = Buffer.from(`AC123:${basic}`).toString('base64');
    const out = planSwaps(ex([['authorization', `Basic ${sent}`]]), deps);
    if (!out.ok) throw new Error('refused');
    const swapped = Buffer.from('AC123:REAL-PASS').toString('base64');
    expect(out.plan.headers[0]).toEqual(['authorization', `Basic ${swapped}`]);
    expect(out.plan.reflections).toContainEqual({ real: swapped, standIn: sent });
  });

  it('refuses out-of-scope tokens as token misuse, naming the secret', () => {
    const out = planSwaps(ex([['Authorization', `Bearer ${bearer}`]], '/', { host: 'evil.example.com', port: 443, kind: 'name' }), deps);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.error.code).toBe('GW_TOKEN_SCOPE');
    expect(out.error.decision).toBe('token_misuse');
    expect(out.secrets).toEqual(['openai@3']);
  });

  it('refuses foreign, unknown and malformed tokens', () => {
    for (const h of [`Bearer ${foreign}`, `Bearer standin_${'Z'.repeat(32)}`, `Bearer ${bearer}extra`]) {
      const out = planSwaps(ex([['Authorization', h]]), deps);
      expect(out.ok ? 'ok' : out.error.code, h).toBe('GW_TOKEN_UNKNOWN');
    }
  });

  it('refuses a token outside its scheme place', () => {
    const out = planSwaps(ex([['x-other', bearer]]), deps);
    expect(out.ok ? 'ok' : out.error.code).toBe('GW_TOKEN_PLACEMENT');
    const q = planSwaps(ex([], `/?api_key=${header}`), deps);
    expect(q.ok ? 'ok' : q.error.code).toBe('GW_TOKEN_PLACEMENT');
  });

  it('never mutates the input headers and reports values only through reflections', () => {
    const headers: HeaderList = [['Authorization', `Bearer ${bearer}`]];
    const out = planSwaps(ex(headers), deps);
    expect(headers[0]?.[1]).toBe(`Bearer ${bearer}`);
    if (!out.ok) throw new Error('refused');
    expect(JSON.stringify(out.plan.swaps)).not.toContain('REAL');
  });
});
