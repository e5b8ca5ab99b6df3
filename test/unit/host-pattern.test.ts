import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { HostPatternSet, matchesAnyPattern, parseHostPattern } from '../../src/policy/host-pattern.js';
import { parseConnectAuthority } from '../../src/policy/target.js';

const t = (authority: string) => parseConnectAuthority(authority);

describe('parseHostPattern', () => {
  it('parses exact, wildcard, port and IP patterns canonically', () => {
    expect(parseHostPattern('API.OpenAI.com')).toEqual({ match: 'exact', host: 'api.openai.com', kind: 'name', port: 443 });
    expect(parseHostPattern('*.Example.com.')).toEqual({ match: 'subdomain', host: 'example.com', kind: 'name', port: 443 });
    expect(parseHostPattern('*.example.com:8443')).toEqual({ match: 'subdomain', host: 'example.com', kind: 'name', port: 8443 });
    expect(parseHostPattern('10.0.0.1:8080')).toEqual({ match: 'exact', host: '10.0.0.1', kind: 'ipv4', port: 8080 });
    expect(parseHostPattern('[2001:DB8::1]')).toEqual({ match: 'exact', host: '2001:db8::1', kind: 'ipv6', port: 443 });
  });

  it.each(['', '*', '*.', '**.example.com', '*example.com', 'a.*.example.com', '*.*.example.com', 'api.*', '*.10.0.0.1', '*.0.1', '*.[::1]',
    'example.com:0', 'example.com:99999', 'exa mple.com', 'ex_ample.com', 'user@example.com', 'https://example.com', 'example.com/x',
    '127.1', '::1', 'bücher.de', 'a。b', '*.com', '*.test', '*.com:8443'])('refuses %j with a UsageError', (s) => {
    expect(() => parseHostPattern(s)).toThrow(UsageError);
  });

  it('names the bad pattern on one line', () => {
    expect(() => parseHostPattern('bad\nline')).toThrow(/^invalid host pattern "bad\\nline": [^\n]+$/);
  });
});

describe('matchesAnyPattern', () => {
  const cases: [string, string, boolean][] = [
    ['api.openai.com', 'api.openai.com:443', true],
    ['api.openai.com', 'API.OPENAI.COM.:443', true],
    ['api.openai.com', 'api.openai.com:8443', false],
    ['api.openai.com:8443', 'api.openai.com:8443', true],
    ['api.openai.com', 'x.api.openai.com:443', false],
    ['*.example.com', 'a.example.com:443', true],
    ['*.example.com', 'a.b.example.com:443', true],
    ['*.example.com', 'example.com:443', false],
    ['*.example.com', 'evil-example.com:443', false],
    ['*.example.com', 'aexample.com:443', false],
    ['*.example.com', 'example.com.evil.net:443', false],
    ['*.example.com', 'a.example.com:80', false],
    ['example.com', 'evil-example.com:443', false],
    ['example.com', 'example.com.evil.net:443', false],
    ['example.com', 'a.example.com:443', false],
    ['10.0.0.1', '10.0.0.1:443', true],
    ['10.0.0.1', '10.0.0.10:443', false],
    ['[::1]', '[0:0:0:0:0:0:0:1]:443', true],
    ['[::ffff:127.0.0.1]', '[::ffff:7f00:1]:443', true],
  ];
  it.each(cases)('%s vs %s -> %s', (pattern, target, want) => {
    expect(matchesAnyPattern([pattern], t(target))).toBe(want);
    expect(matchesAnyPattern([parseHostPattern(pattern)], t(target))).toBe(want);
    expect(new HostPatternSet([pattern]).matches(t(target))).toBe(want);
  });

  it('ignores invalid stored patterns (fails closed) and matches any valid one', () => {
    expect(matchesAnyPattern(['not a pattern', '*'], t('a.example.com:443'))).toBe(false);
    expect(matchesAnyPattern(['bad pattern', 'other.test', '*.example.com'], t('a.example.com:443'))).toBe(true);
    expect(matchesAnyPattern([], t('a.example.com:443'))).toBe(false);
    expect(new HostPatternSet(['bad pattern', 'x.test']).size).toBe(1);
  });
});

describe('wildcard properties', () => {
  const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
  const domain = fc.array(label, { minLength: 2, maxLength: 4 }).map((ls) => ls.join('.'));
  const glued = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}$/);

  it('*.d never matches d itself, nor X+d without a dot boundary, and always matches l.d', () => {
    fc.assert(
      fc.property(domain, glued, label, fc.constantFrom('', '.'), (d, x, l, dot) => {
        const pattern = [`*.${d}`];
        expect(matchesAnyPattern(pattern, t(`${d}${dot}:443`))).toBe(false);
        expect(matchesAnyPattern(pattern, t(`${x}${d}:443`))).toBe(false);
        expect(matchesAnyPattern([d], t(`${x}${d}:443`))).toBe(false);
        // Appending a label matches only when the result happens to end in `.d` again (d=a, l=a).
        expect(matchesAnyPattern(pattern, t(`${d}.${l}:443`))).toBe(`${d}.${l}`.endsWith(`.${d}`));
        expect(matchesAnyPattern(pattern, t(`${l}.${d}${dot}:443`))).toBe(true);
        expect(new HostPatternSet(pattern).matches(t(`${l}.${d}:443`))).toBe(true);
      }),
    );
  });

  it('an exact pattern matches exactly its own canonical host', () => {
    fc.assert(
      fc.property(domain, domain, (a, b) => {
        expect(matchesAnyPattern([a], t(`${b}:443`))).toBe(a === b);
      }),
    );
  });
});
