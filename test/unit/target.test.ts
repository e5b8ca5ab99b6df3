import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { formatTarget, parseAbsoluteHttpUrl, parseConnectAuthority, parseHostHeader } from '../../src/policy/target.js';
import type { Target } from '../../src/model/target.js';

function badTarget(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    expect((e as GatewayError).code).toBe('GW_BAD_TARGET');
    return;
  }
  throw new Error('expected GW_BAD_TARGET');
}

describe('parseConnectAuthority: accepted', () => {
  const cases: [string, Target][] = [
    ['api.example.com:443', { host: 'api.example.com', port: 443, kind: 'name' }],
    ['API.Example.COM:443', { host: 'api.example.com', port: 443, kind: 'name' }],
    ['api.example.com.:443', { host: 'api.example.com', port: 443, kind: 'name' }],
    ['localhost:8443', { host: 'localhost', port: 8443, kind: 'name' }],
    ['xn--bcher-kva.example:443', { host: 'xn--bcher-kva.example', port: 443, kind: 'name' }],
    ['a-b.c1:1', { host: 'a-b.c1', port: 1, kind: 'name' }],
    ['1.2.3.4:65535', { host: '1.2.3.4', port: 65535, kind: 'ipv4' }],
    ['0.0.0.0:443', { host: '0.0.0.0', port: 443, kind: 'ipv4' }],
    ['[::1]:443', { host: '::1', port: 443, kind: 'ipv6' }],
    ['[2001:DB8:0:0:0:0:0:1]:443', { host: '2001:db8::1', port: 443, kind: 'ipv6' }],
    ['[::ffff:127.0.0.1]:443', { host: '::ffff:7f00:1', port: 443, kind: 'ipv6' }],
    ['[::FFFF:7F00:1]:443', { host: '::ffff:7f00:1', port: 443, kind: 'ipv6' }],
    ['[1:0:0:2:0:0:0:3]:443', { host: '1:0:0:2::3', port: 443, kind: 'ipv6' }],
    ['[1:0:2:3:4:5:6:7]:443', { host: '1:0:2:3:4:5:6:7', port: 443, kind: 'ipv6' }],
  ];
  it.each(cases)('%s', (raw, want) => {
    expect(parseConnectAuthority(raw)).toEqual(want);
  });

  it('accepts a 253-character name and 63-character labels', () => {
    const name = [61, 63, 63, 63].map((n, i) => String.fromCharCode(97 + i).repeat(n)).join('.');
    expect(name.length).toBe(253);
    expect(parseConnectAuthority(`${name}:443`).host).toBe(name);
    expect(parseConnectAuthority(`${name}.:443`).host).toBe(name);
    badTarget(() => parseConnectAuthority(`a${name}:443`));
  });
});

describe('parseConnectAuthority: refused', () => {
  const attacks = [
    // odd IP spellings that resolvers turn into loopback / metadata addresses
    '127.1:443', '0x7f.0.0.1:443', '0x7f000001:443', '0177.0.0.1:443', '2130706433:443', '017700000001:443',
    '0:443', '2852039166:443', '0x7f.1:443', '127.0.0.01:443', '127.000.000.001:443', '1.2.3.4.:443', '1.2.3:443',
    '1.2.3.4.5:443', '256.1.1.1:443', '0xa9.254.169.254:443', 'foo.123:443', 'foo.0x1:443',
    // authority shapes from NODE-PITFALLS
    'evil.example', 'evil.example:', ':443', 'good@evil:443', 'good.example@evil.example:443', 'http://x:443/',
    'a:443:8443', 'evil.example/x:443', 'evil.example:443/x', 'a:99999', 'a:0', 'a:00443', 'a:+443', 'a:-1', 'a: 443',
    'a:0x1bb', '', '[::1]', '[::1]:', '::1:443', '[::1]443', '[::1]:443:1', '[fe80::1%eth0]:443', '[fe80::1%25eth0]:443',
    '[1.2.3.4]:443', '[::ffff:127.1]:443', '[::1', '::1]:443', '[[::1]]:443', '[::g]:443',
    // encodings and look-alikes
    'evil%2eexample:443', 'ev%69l.example:443', 'evil。example:443', 'evil．example:443', 'ｅvil.example:443',
    'bücher.example:443', 'a\u0000b:443', 'a b:443', ' a:443', 'a:443 ', 'a\t:443', 'a\r\n:443',
    'under_score.example:443', 'a\\b:443', '-a.example:443', 'a-.example:443', 'a..b:443', '.a:443', 'a.example..:443',
    '*.example.com:443', 'a.example.com;b:443',
    // lengths
    `${'a'.repeat(64)}.example:443`, `${Array.from({ length: 64 }, () => 'abc').join('.')}:443`, `${'a.'.repeat(200)}com:443`,
  ];
  it.each(attacks.map((a) => [JSON.stringify(a), a]))('%s', (_label, raw) => {
    badTarget(() => parseConnectAuthority(raw));
  });
});

describe('parseHostHeader', () => {
  it('defaults the port and applies the same grammar', () => {
    expect(parseHostHeader('Good.Example.', 443)).toEqual({ host: 'good.example', port: 443, kind: 'name' });
    expect(parseHostHeader('good.example:8443', 443)).toEqual({ host: 'good.example', port: 8443, kind: 'name' });
    expect(parseHostHeader('[::1]', 80)).toEqual({ host: '::1', port: 80, kind: 'ipv6' });
  });
  it.each(['', 'good.example@evil.example', 'evil.example/x', 'a:99999', 'a:', '127.1', 'a b', 'a,b'])('refuses %j', (raw) => {
    expect(parseHostHeader(raw, 443)).toBeUndefined();
  });
});

describe('parseAbsoluteHttpUrl', () => {
  it('splits host, port and path by hand', () => {
    expect(parseAbsoluteHttpUrl('http://Example.COM/a/b?q=1')).toEqual({ target: { host: 'example.com', port: 80, kind: 'name' }, path: '/a/b?q=1' });
    expect(parseAbsoluteHttpUrl('http://example.com')).toEqual({ target: { host: 'example.com', port: 80, kind: 'name' }, path: '/' });
    expect(parseAbsoluteHttpUrl('http://example.com:8080?x')).toEqual({ target: { host: 'example.com', port: 8080, kind: 'name' }, path: '/?x' });
    expect(parseAbsoluteHttpUrl('http://[::1]:8080/p').target).toEqual({ host: '::1', port: 8080, kind: 'ipv6' });
    expect(parseAbsoluteHttpUrl('http://example.com/%2e%2e/x').path).toBe('/%2e%2e/x');
  });
  const refused = [
    'https://example.com/', 'ftp://example.com/', '//example.com/', '/relative', 'http:/example.com/', 'http://',
    'http://user@example.com/', 'http://user:pw@example.com/', 'http://good.example@evil.example/', 'http://ex%61mple.com/',
    'http://example。com/', 'http://127.1/', 'http://2130706433/', 'http://0x7f.0.0.1/', 'http://example.com:99999/',
    'http://example.com:/', 'http://example.com/a b', 'http://example.com/#frag', 'http://example.com/\u00e9',
    'http://example.com\\@evil.example/', 'http://[::1%25lo]/',
  ];
  it.each(refused)('refuses %j', (raw) => {
    badTarget(() => parseAbsoluteHttpUrl(raw));
  });
});

describe('formatTarget and canonical idempotence', () => {
  it('brackets IPv6 only', () => {
    expect(formatTarget({ host: '::1', port: 443, kind: 'ipv6' })).toBe('[::1]:443');
    expect(formatTarget({ host: '1.2.3.4', port: 80, kind: 'ipv4' })).toBe('1.2.3.4:80');
    expect(formatTarget({ host: 'a.b', port: 8443, kind: 'name' })).toBe('a.b:8443');
  });

  const label = fc.stringMatching(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?$/);
  const name = fc
    .tuple(fc.array(label, { minLength: 0, maxLength: 4 }), fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,8}$/), fc.boolean())
    .map(([labels, tld, dot]) => [...labels, tld].join('.') + (dot ? '.' : ''));
  const ipv6 = fc.ipV6().map((a) => `[${a}]`);
  const host = fc.oneof(name, fc.ipV4(), ipv6);
  const port = fc.integer({ min: 1, max: 65535 });

  it('parse(format(parse(x))) equals parse(x)', () => {
    fc.assert(
      fc.property(host, port, (h, p) => {
        const once = parseConnectAuthority(`${h}:${p}`);
        expect(parseConnectAuthority(formatTarget(once))).toEqual(once);
        expect(parseHostHeader(formatTarget(once), 1)).toEqual(once);
      }),
    );
  });

  it('never accepts a non-canonical IPv4 spelling', () => {
    const oddOctet = fc.oneof(
      fc.integer({ min: 0, max: 255 }).map((n) => `0${n}`),
      fc.integer({ min: 0, max: 255 }).map((n) => `0x${n.toString(16)}`),
      fc.integer({ min: 256, max: 99999 }).map(String),
    );
    const octet = fc.integer({ min: 0, max: 255 }).map(String);
    fc.assert(
      fc.property(fc.array(octet, { minLength: 0, maxLength: 3 }), oddOctet, fc.nat(3), (octets, odd, at) => {
        const parts = [...octets];
        parts.splice(Math.min(at, parts.length), 0, odd);
        expect(() => parseConnectAuthority(`${parts.join('.')}:443`)).toThrow(GatewayError);
      }),
    );
  });

  it('never throws anything but GW_BAD_TARGET, and anything accepted is canonical', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (raw) => {
        try {
          const t = parseConnectAuthority(raw);
          expect(formatTarget(t).length).toBeLessThanOrEqual(raw.length + 30);
          expect(t.host).toMatch(/^[a-z0-9.:-]+$/);
        } catch (e) {
          expect((e as GatewayError).code).toBe('GW_BAD_TARGET');
        }
      }),
    );
  });
});
