import { UsageError } from '../errors.js';
import { formatIp, maskTo, parseIPv4, parseIPv6, parseIp, prefixMatches, type IpBytes } from './ip.js';
import type { AllowDest } from './types.js';

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'unique-local'
  | 'metadata';

/** What a range is, or `embedded`: an IPv6 form that carries an IPv4 address at `offset`. */
type RangeKind = AddressClass | { embedded: number };

interface Range {
  bytes: Uint8Array;
  prefix: number;
  kind: RangeKind;
}

function range(cidr: string, kind: RangeKind): Range {
  const [net = '', len = ''] = cidr.split('/');
  const ip = parseIp(net);
  if (!ip) throw new Error(`bad built-in range ${cidr}`);
  return { bytes: ip.bytes, prefix: Number(len), kind };
}

// First match wins, so the narrower ranges come before the ranges that contain them.
const IPV4_RANGES: readonly Range[] = [
  range('169.254.169.254/32', 'metadata'), // AWS, GCP, Azure, OpenStack instance metadata
  range('168.63.129.16/32', 'metadata'), // Azure platform wire server (public-looking, host-local)
  range('0.0.0.0/8', 'unspecified'),
  range('127.0.0.0/8', 'loopback'),
  range('10.0.0.0/8', 'private'),
  range('172.16.0.0/12', 'private'),
  range('192.168.0.0/16', 'private'),
  range('100.64.0.0/10', 'cgnat'),
  range('169.254.0.0/16', 'link-local'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved'), // includes 255.255.255.255
  range('192.0.0.0/24', 'reserved'), // IETF protocol assignments (and Oracle's metadata at .192)
  range('192.0.2.0/24', 'reserved'),
  range('198.51.100.0/24', 'reserved'),
  range('203.0.113.0/24', 'reserved'),
  range('198.18.0.0/15', 'reserved'),
  range('192.88.99.0/24', 'reserved'), // 6to4 relay anycast (deprecated)
];

const IPV6_RANGES: readonly Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('fd00:ec2::254/128', 'metadata'), // AWS instance metadata over IPv6
  range('::ffff:0:0/96', { embedded: 12 }), // IPv4-mapped
  range('::/96', { embedded: 12 }), // IPv4-compatible (deprecated, still routed by some stacks)
  range('64:ff9b::/96', { embedded: 12 }), // NAT64 well-known prefix
  range('2002::/16', { embedded: 2 }), // 6to4
  range('64:ff9b:1::/48', 'reserved'), // local-use NAT64: the embedding is site-defined
  range('2001::/32', 'reserved'), // Teredo: the embedded address is obfuscated
  range('2001:2::/48', 'reserved'), // benchmarking
  range('2001:db8::/32', 'reserved'), // documentation
  range('2001:10::/28', 'reserved'), // ORCHID
  range('2001:20::/28', 'reserved'), // ORCHIDv2
  range('3fff::/20', 'reserved'), // documentation (RFC 9637)
  range('100::/64', 'reserved'), // discard-only
  range('fc00::/7', 'unique-local'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'reserved'), // site-local (deprecated)
  range('ff00::/8', 'multicast'),
  // Only 2000::/3 is allocated as global unicast; anything else is not a public destination.
  range('2000::/3', 'public'),
  range('::/0', 'reserved'),
];

/** Classifies an IP literal; anything that is not a strict IPv4/IPv6 literal is `reserved`. */
export function classifyAddress(ip: string): AddressClass {
  const parsed = parseIp(ip);
  return parsed ? classifyBytes(parsed) : 'reserved';
}

export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip) === 'public';
}

function classifyBytes(ip: IpBytes): AddressClass {
  const ranges = ip.family === 4 ? IPV4_RANGES : IPV6_RANGES;
  for (const r of ranges) {
    if (!prefixMatches(ip.bytes, r.bytes, r.prefix)) continue;
    if (typeof r.kind === 'string') return r.kind;
    // An IPv6 form that reaches an IPv4 host is exactly as private as that IPv4 host.
    return classifyBytes({ family: 4, bytes: ip.bytes.slice(r.kind.embedded, r.kind.embedded + 4) });
  }
  return 'public';
}

/** `::ffff:a.b.c.d` is the IPv4 host a.b.c.d on a dual-stack socket: compare it as such. */
function unmapped(ip: IpBytes): IpBytes {
  if (ip.family === 6 && ip.bytes.subarray(0, 10).every((b) => b === 0) && ip.bytes[10] === 0xff && ip.bytes[11] === 0xff) {
    return { family: 4, bytes: ip.bytes.slice(12) };
  }
  return ip;
}

const PORT = /^[1-9]\d{0,4}$/;

/** `IP`, `IP:PORT`, `[IPv6]`, `[IPv6]:PORT` or `CIDR`. */
export function parseAllowDest(s: string): AllowDest {
  const fail = (): never => {
    throw new UsageError(`invalid --allow-dest ${JSON.stringify(s.slice(0, 100))}: expected IP, IP:PORT, [IPv6]:PORT or CIDR`);
  };
  let host = s.trim();
  let port: number | null = null;
  let prefix: number | undefined;
  const slash = host.indexOf('/');
  if (slash >= 0) {
    const len = host.slice(slash + 1);
    if (!/^(?:0|[1-9]\d{0,2})$/.test(len)) fail();
    prefix = Number(len);
    host = host.slice(0, slash);
  } else if (host.startsWith('[')) {
    const close = host.indexOf(']');
    const after = host.slice(close + 1);
    if (close < 0 || (after !== '' && !after.startsWith(':'))) fail();
    if (after !== '') port = parsePort(after.slice(1)) ?? fail();
    host = host.slice(1, close);
    if (!parseIPv6(host)) fail();
  } else if (parseIPv4(host.split(':')[0] ?? '') && host.includes(':')) {
    const [ip = '', p = '', ...extra] = host.split(':');
    if (extra.length > 0) fail();
    port = parsePort(p) ?? fail();
    host = ip;
  }
  const parsed = parseIp(host) ?? fail();
  const max = parsed.family === 4 ? 32 : 128;
  const bits = prefix ?? max;
  if (bits > max) fail();
  // A mapped network (`::ffff:10.0.0.0/104`) is stored as the IPv4 network it means.
  const ip = bits >= 96 ? unmapped(parsed) : parsed;
  const finalBits = ip.family === parsed.family ? bits : bits - 96;
  return { network: formatIp({ family: ip.family, bytes: maskTo(ip.bytes, finalBits) }), prefix: finalBits, family: ip.family, port };
}

function parsePort(s: string): number | undefined {
  const n = Number(s);
  return PORT.test(s) && n <= 65535 ? n : undefined;
}

/** Whether an `--allow-dest` entry lets the gateway connect to this address and port. */
export function allowDestPermits(list: readonly AllowDest[], ip: string, port: number): boolean {
  if (list.length === 0) return false;
  const parsed = parseIp(ip);
  if (!parsed) return false;
  const addr = unmapped(parsed);
  return list.some((entry) => {
    if (entry.port !== null && entry.port !== port) return false;
    const net = parseIp(entry.network);
    if (!net) return false;
    const netIp = unmapped(net);
    return netIp.family === addr.family && prefixMatches(addr.bytes, netIp.bytes, entry.family === netIp.family ? entry.prefix : entry.prefix - 96);
  });
}
