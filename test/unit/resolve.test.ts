import { describe, expect, it } from 'vitest';
import { GatewayError, UsageError } from '../../src/errors.js';
import { parseAllowDest } from '../../src/policy/address.js';
import { parseResolveOverride, resolveTarget } from '../../src/policy/resolve.js';
import { parseConnectAuthority } from '../../src/policy/target.js';
import type { ResolverOptions } from '../../src/policy/types.js';

type Answer = { address: string; family: number };

function resolver(answers: Record<string, Answer[] | Error>, extra: Partial<ResolverOptions> = {}): ResolverOptions & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    overrides: new Map(),
    allowDest: [],
    lookup: async (host) => {
      calls.push(host);
      const a = answers[host];
      if (a instanceof Error) throw a;
      return a ?? [];
    },
    ...extra,
  };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    return (e as GatewayError).code;
  }
  return 'resolved';
}

const v4 = (address: string): Answer => ({ address, family: 4 });
const v6 = (address: string): Answer => ({ address, family: 6 });
const t = (s: string) => parseConnectAuthority(s);

describe('resolveTarget', () => {
  it('returns the first public address of a name', async () => {
    const r = resolver({ 'api.example.com': [v4('93.184.216.34'), v6('2606:2800:220:1::1')] });
    expect(await resolveTarget(t('api.example.com:443'), r)).toEqual({ address: '93.184.216.34', family: 4 });
    expect(r.calls).toEqual(['api.example.com']);
  });

  it('drops non-public answers and connects to the public one (mixed answers)', async () => {
    const r = resolver({ 'mixed.example': [v4('127.0.0.1'), v6('::ffff:169.254.169.254'), v6('2606:4700::1')] });
    expect(await resolveTarget(t('mixed.example:443'), r)).toEqual({ address: '2606:4700::1', family: 6 });
  });

  it.each([
    ['127.0.0.1'], ['10.0.0.1'], ['169.254.169.254'], ['100.64.0.1'], ['0.0.0.0'], ['::1'], ['::ffff:127.0.0.1'], ['::ffff:7f00:1'],
    ['64:ff9b::a9fe:a9fe'], ['fd00:ec2::254'], ['fe80::1'], ['fc00::1'], ['2002:7f00:1::1'], ['garbage'],
  ])('refuses a name that resolves only to %s', async (address) => {
    const r = resolver({ 'rebind.example': [{ address, family: address.includes(':') ? 6 : 4 }] });
    expect(await code(resolveTarget(t('rebind.example:443'), r))).toBe('GW_PRIVATE_ADDRESS');
  });

  it('checks IP literals without DNS', async () => {
    const r = resolver({});
    expect(await resolveTarget(t('8.8.8.8:443'), r)).toEqual({ address: '8.8.8.8', family: 4 });
    expect(await code(resolveTarget(t('127.0.0.1:443'), r))).toBe('GW_PRIVATE_ADDRESS');
    expect(await code(resolveTarget(t('[::ffff:127.0.0.1]:443'), r))).toBe('GW_PRIVATE_ADDRESS');
    expect(await code(resolveTarget(t('[::ffff:a9fe:a9fe]:443'), r))).toBe('GW_PRIVATE_ADDRESS');
    expect(r.calls).toEqual([]);
  });

  it('maps lookup failures and empty answers to GW_DNS_FAILED', async () => {
    const err = Object.assign(new Error('getaddrinfo ENOTFOUND nope.example secret-ish text'), { code: 'ENOTFOUND' });
    const r = resolver({ 'nope.example': err });
    const e: unknown = await resolveTarget(t('nope.example:443'), r).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'GW_DNS_FAILED', detail: 'nope.example: ENOTFOUND' });
    expect(await code(resolveTarget(t('empty.example:443'), r))).toBe('GW_DNS_FAILED');
  });

  it('uses --resolve overrides first, still checked, and --allow-dest to let one loopback port through', async () => {
    const overrides = new Map([parseResolveOverride('upstream.standin.test=127.0.0.1')]);
    const strict = resolver({}, { overrides });
    expect(await code(resolveTarget(t('upstream.standin.test:8443'), strict))).toBe('GW_PRIVATE_ADDRESS');
    const allowed = resolver({}, { overrides, allowDest: [parseAllowDest('127.0.0.1:8443')] });
    expect(await resolveTarget(t('upstream.standin.test:8443'), allowed)).toEqual({ address: '127.0.0.1', family: 4 });
    expect(await code(resolveTarget(t('upstream.standin.test:8444'), allowed))).toBe('GW_PRIVATE_ADDRESS');
    expect(allowed.calls).toEqual([]);
    // Other loopback destinations stay refused.
    const other = resolver({ 'x.example': [v4('127.0.0.1')] }, { allowDest: [parseAllowDest('127.0.0.1:8443')] });
    expect(await code(resolveTarget(t('x.example:443'), other))).toBe('GW_PRIVATE_ADDRESS');
  });

  it('permits an allowed IPv4 destination reached through its IPv4-mapped form', async () => {
    const r = resolver({ 'm.example': [v6('::ffff:127.0.0.1')] }, { allowDest: [parseAllowDest('127.0.0.1')] });
    expect(await resolveTarget(t('m.example:443'), r)).toEqual({ address: '::ffff:7f00:1', family: 6 });
  });

  it('uses the real DNS lookup by default (localhost is refused as loopback)', async () => {
    expect(await code(resolveTarget(t('localhost:443'), { overrides: new Map(), allowDest: [] }))).toBe('GW_PRIVATE_ADDRESS');
  });
});

describe('parseResolveOverride', () => {
  it('canonicalises host and IP', () => {
    expect(parseResolveOverride('Upstream.Standin.Test.=127.0.0.1')).toEqual(['upstream.standin.test', '127.0.0.1']);
    expect(parseResolveOverride('a.test=[0:0::1]')).toEqual(['a.test', '::1']);
    expect(parseResolveOverride('a.test=::FFFF:127.0.0.1')).toEqual(['a.test', '::ffff:7f00:1']);
  });
  it.each(['', 'a.test', '=127.0.0.1', 'a.test=', 'a.test=127.1', 'a.test=localhost', 'a_b.test=1.2.3.4', 'a.test:443=1.2.3.4',
    '1.2.3.4=5.6.7.8', 'a.test=1.2.3.4=5', 'a.test=fe80::1%eth0'])('refuses %j', (s) => {
    expect(() => parseResolveOverride(s)).toThrow(UsageError);
  });
});
