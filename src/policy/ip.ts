import { isIPv6 } from 'node:net';

/**
 * IP literals as bytes: the one strict reading of an address that the target grammar, the
 * address classifier and `--allow-dest` all share, so that no two of them can disagree on what
 * an address is. Only canonical dotted-quad IPv4 is an IPv4 address here; every other numeric
 * spelling (`127.1`, `0x7f.0.0.1`, `0177.0.0.1`, `2130706433`) is rejected, never reinterpreted.
 */

export interface IpBytes {
  family: 4 | 6;
  bytes: Uint8Array;
}

// Each octet 0-255 in decimal without leading zeros: the only form every resolver reads alike.
const CANONICAL_IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// Hex groups, colons and an optional dotted tail; '%' (zone ids) is deliberately not in the set.
const IPV6_CHARS = /^[0-9a-fA-F:.]+$/;

export function parseIPv4(s: string): Uint8Array | undefined {
  if (!CANONICAL_IPV4.test(s)) return undefined;
  return Uint8Array.from(s.split('.'), Number);
}

/** An IPv6 literal without brackets; zone ids are refused (they name an interface, not a host). */
export function parseIPv6(s: string): Uint8Array | undefined {
  if (s.length > 45 || !IPV6_CHARS.test(s) || !isIPv6(s)) return undefined;
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // Rewrite a dotted tail (`::ffff:127.0.0.1`) as its two hex groups, then parse hex only.
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    const hi = (((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16);
    const lo = (((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (part: string | undefined): number[] => (part ? part.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const left = toGroups(halves[0]);
  const right = toGroups(halves[1]);
  const fill = halves.length === 2 ? 8 - left.length - right.length : 0;
  if (fill < 0) return undefined;
  const all = [...left, ...new Array<number>(fill).fill(0), ...right];
  if (all.length !== 8 || all.some((g) => !(g >= 0 && g <= 0xffff))) return undefined;
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** Either family; IPv6 without brackets. */
export function parseIp(s: string): IpBytes | undefined {
  const v4 = parseIPv4(s);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(s);
  return v6 ? { family: 6, bytes: v6 } : undefined;
}

export function formatIPv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join('.');
}

/**
 * RFC 5952 text, always in hex groups (`::ffff:7f00:1`, not `::ffff:127.0.0.1`): one spelling
 * per address, and the one certificate libraries and Node's sockets both accept.
 */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatIp(ip: IpBytes): string {
  return ip.family === 4 ? formatIPv4(ip.bytes) : formatIPv6(ip.bytes);
}

/** Whether the first `prefix` bits of two equal-length byte strings agree. */
export function prefixMatches(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i += 1) if (a[i] !== b[i]) return false;
  const bits = prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return ((a[whole] ?? 0) & mask) === ((b[whole] ?? 0) & mask);
}

/** Zeroes every bit after `prefix` (the network of a CIDR). */
export function maskTo(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let bit = prefix; bit < out.length * 8; bit += 1) {
    const i = bit >> 3;
    out[i] = (out[i] ?? 0) & ~(0x80 >> (bit & 7));
  }
  return out;
}
