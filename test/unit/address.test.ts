import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { allowDestPermits, classifyAddress, isPublicAddress, parseAllowDest, type AddressClass } from '../../src/policy/address.js';
import { formatIPv6, parseIPv6 } from '../../src/policy/ip.js';

describe('classifyAddress', () => {
  const cases: [string, AddressClass][] = [
    ['8.8.8.8', 'public'], ['1.1.1.1', 'public'], ['172.32.0.1', 'public'], ['100.128.0.1', 'public'], ['198.20.0.1', 'public'],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'],
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
    ['100.64.0.1', 'cgnat'], ['100.127.255.255', 'cgnat'],
    ['169.254.1.1', 'link-local'], ['169.254.169.254', 'metadata'], ['168.63.129.16', 'metadata'],
    ['224.0.0.1', 'multicast'], ['239.255.255.255', 'multicast'],
    ['240.0.0.1', 'reserved'], ['255.255.255.255', 'reserved'],
    ['192.0.2.1', 'reserved'], ['198.51.100.7', 'reserved'], ['203.0.113.9', 'reserved'], ['198.18.0.1', 'reserved'], ['198.19.255.255', 'reserved'],
    ['192.0.0.192', 'reserved'],
    ['::', 'unspecified'], ['::1', 'loopback'], ['0:0:0:0:0:0:0:1', 'loopback'],
    ['2606:4700:4700::1111', 'public'], ['2001:4860:4860::8888', 'public'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::FFFF:a9fe:a9fe', 'metadata'], ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'], ['::ffff:0.0.0.0', 'unspecified'],
    ['::127.0.0.1', 'loopback'], ['::7f00:1', 'loopback'], ['::169.254.169.254', 'metadata'], ['::8.8.8.8', 'public'],
    ['64:ff9b::127.0.0.1', 'loopback'], ['64:ff9b::a9fe:a9fe', 'metadata'], ['64:ff9b::8.8.8.8', 'public'], ['64:ff9b:1::1', 'reserved'],
    ['2002:7f00:1::', 'loopback'], ['2002:a9fe:a9fe::1', 'metadata'], ['2002:0808:0808::1', 'public'],
    ['2001::1', 'reserved'], ['2001:0:4136:e378::1', 'reserved'], ['2001:db8::1', 'reserved'], ['2001:2::1', 'reserved'],
    ['3fff::1', 'reserved'], ['100::1', 'reserved'],
    ['fc00::1', 'unique-local'], ['fd12:3456::1', 'unique-local'], ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link-local'], ['febf::1', 'link-local'], ['fec0::1', 'reserved'],
    ['ff02::1', 'multicast'], ['ff05::2', 'multicast'],
    ['::2', 'unspecified'], ['4000::1', 'reserved'], ['1::', 'reserved'],
    // not strict literals: never public
    ['127.1', 'reserved'], ['2130706433', 'reserved'], ['0x7f.0.0.1', 'reserved'], ['fe80::1%eth0', 'reserved'], ['', 'reserved'], ['example.com', 'reserved'],
  ];
  it.each(cases)('%s is %s', (ip, want) => {
    expect(classifyAddress(ip)).toBe(want);
    expect(isPublicAddress(ip)).toBe(want === 'public');
  });

  const v4In = (a: number, b?: number) =>
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([x, y, z]) =>
      b === undefined ? [a, x, y, z] : [a, b, y, z],
    );
  const nonPublicV4 = fc.oneof(v4In(127), v4In(10), v4In(169, 254), v4In(192, 168), v4In(0));
  const hex = (o: number[]) => `${(((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)}:${(((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)}`;

  it('every IPv6 form of a non-public IPv4 is non-public', () => {
    fc.assert(
      fc.property(nonPublicV4, fc.boolean(), (o, upper) => {
        const dotted = o.join('.');
        const forms = [`::ffff:${dotted}`, `::ffff:${hex(o)}`, `0:0:0:0:0:ffff:${hex(o)}`, `::${dotted}`, `64:ff9b::${dotted}`, `64:ff9b::${hex(o)}`, `2002:${hex(o)}::1`];
        expect(classifyAddress(dotted)).not.toBe('public');
        for (const f of forms) {
          const spelled = upper ? f.toUpperCase() : f;
          expect(classifyAddress(spelled)).toBe(classifyAddress(dotted));
        }
      }),
    );
  });

  it('IPv6 parsing agrees with its own formatting', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const bytes = parseIPv6(ip);
        expect(bytes).toBeDefined();
        const again = parseIPv6(formatIPv6(bytes ?? new Uint8Array(16)));
        expect(again).toEqual(bytes);
        expect(classifyAddress(formatIPv6(bytes ?? new Uint8Array(16)))).toBe(classifyAddress(ip));
      }),
    );
  });
});

describe('parseAllowDest', () => {
  it('parses IP, IP:PORT, [IPv6]:PORT and CIDR', () => {
    expect(parseAllowDest('127.0.0.1')).toEqual({ network: '127.0.0.1', prefix: 32, family: 4, port: null });
    expect(parseAllowDest('127.0.0.1:8443')).toEqual({ network: '127.0.0.1', prefix: 32, family: 4, port: 8443 });
    expect(parseAllowDest('[::1]:8443')).toEqual({ network: '::1', prefix: 128, family: 6, port: 8443 });
    expect(parseAllowDest('[::1]')).toEqual({ network: '::1', prefix: 128, family: 6, port: null });
    expect(parseAllowDest('::1')).toEqual({ network: '::1', prefix: 128, family: 6, port: null });
    expect(parseAllowDest('10.1.2.3/8')).toEqual({ network: '10.0.0.0', prefix: 8, family: 4, port: null });
    expect(parseAllowDest('fd00::/8')).toEqual({ network: 'fd00::', prefix: 8, family: 6, port: null });
    expect(parseAllowDest('::ffff:10.0.0.0/104')).toEqual({ network: '10.0.0.0', prefix: 8, family: 4, port: null });
  });

  it.each(['', 'localhost', '127.1', '127.0.0.1:0', '127.0.0.1:99999', '127.0.0.1:', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08',
    '[::1]:', '[::1', '[127.0.0.1]:80', '::/129', '10.0.0.0/8:80', '1.2.3.4:80:90', 'fe80::1%eth0'])('refuses %j', (s) => {
    expect(() => parseAllowDest(s)).toThrow(UsageError);
  });
});

describe('allowDestPermits', () => {
  const list = [parseAllowDest('127.0.0.1:8443'), parseAllowDest('10.0.0.0/8'), parseAllowDest('[fd00::1]:443')];
  it.each([
    ['127.0.0.1', 8443, true],
    ['127.0.0.1', 443, false],
    ['127.0.0.2', 8443, false],
    ['::ffff:127.0.0.1', 8443, true],
    ['::ffff:7f00:1', 8443, true],
    ['10.200.3.4', 1, true],
    ['11.0.0.1', 1, false],
    ['fd00::1', 443, true],
    ['fd00::2', 443, false],
    ['fd00:0:0:0:0:0:0:1', 443, true],
    ['127.1', 8443, false],
  ] as const)('%s:%d -> %s', (ip, port, want) => {
    expect(allowDestPermits(list, ip, port)).toBe(want);
  });

  it('an empty list permits nothing', () => {
    expect(allowDestPermits([], '127.0.0.1', 443)).toBe(false);
  });
});
