import { GatewayError } from '../errors.js';
import { formatIPv6, parseIPv4, parseIPv6 } from './ip.js';
import type { Target } from '../model/target.js';

/**
 * The one grammar for destinations: the CONNECT authority, the Host header inside a tunnel, the
 * authority of a plain-HTTP absolute URL, host patterns and `--resolve` all go through it, so that
 * the host the policy approves is exactly the host the gateway connects to and names in the leaf.
 *
 * Host: a DNS name of ASCII letters, digits and hyphens; a canonical dotted-quad IPv4; or an IPv6
 * literal in brackets. Everything else is refused rather than repaired: percent escapes, userinfo,
 * paths, '_', non-ASCII (full-width dots included), and every numeric spelling resolvers would
 * quietly turn into an address (`127.1`, `0x7f.0.0.1`, `2130706433`).
 */

const MAX_AUTHORITY = 261; // 253 for the name, ':' and five port digits, with brackets to spare
const MAX_NAME = 253;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/;
const PORT = /^[1-9]\d{0,4}$/;
// A cheap first gate: characters that can appear in any valid authority at all.
const AUTHORITY_CHARS = /^[A-Za-z0-9.:[\]-]+$/;

export type ParsedHost = Pick<Target, 'host' | 'kind'>;

/** A bare host (no port): a name, canonical IPv4, or `[IPv6]`; undefined when invalid. */
export function parseHost(raw: string): ParsedHost | undefined {
  if (raw.length === 0 || raw.length > MAX_AUTHORITY || !AUTHORITY_CHARS.test(raw)) return undefined;
  if (raw.startsWith('[')) {
    if (!raw.endsWith(']')) return undefined;
    const v6 = parseIPv6(raw.slice(1, -1));
    return v6 ? { host: formatIPv6(v6), kind: 'ipv6' } : undefined;
  }
  if (raw.includes(':') || raw.includes('[') || raw.includes(']')) return undefined;
  // Checked before the trailing dot is dropped: `1.2.3.4.` is neither an address nor a name.
  if (parseIPv4(raw)) return { host: raw, kind: 'ipv4' };
  const name = (raw.endsWith('.') ? raw.slice(0, -1) : raw).toLowerCase();
  if (name.length === 0 || name.length > MAX_NAME) return undefined;
  const labels = name.split('.');
  if (!labels.every((l) => LABEL.test(l))) return undefined;
  // A name ending in a numeric label is an IP spelling in disguise (`127.1`, `0x7f.1`, `017700000001`).
  if (NUMERIC_LABEL.test(labels[labels.length - 1] ?? '')) return undefined;
  return { host: name, kind: 'name' };
}

function parsePort(raw: string): number | undefined {
  if (!PORT.test(raw)) return undefined;
  const port = Number(raw);
  return port <= 65535 ? port : undefined;
}

/** `host[:port]`; `defaultPort` undefined means the port is required. */
function parseAuthority(raw: string, defaultPort: number | undefined): Target | undefined {
  if (raw.length === 0 || raw.length > MAX_AUTHORITY || !AUTHORITY_CHARS.test(raw)) return undefined;
  // The port separator is the colon after the bracket for IPv6, the only colon otherwise.
  const sep = raw.startsWith('[') ? raw.indexOf(']') + 1 : raw.indexOf(':');
  const hasPort = sep > 0 && sep < raw.length;
  if (hasPort && raw[sep] !== ':') return undefined;
  const hostPart = hasPort ? raw.slice(0, sep) : raw;
  const port = hasPort ? parsePort(raw.slice(sep + 1)) : defaultPort;
  if (port === undefined) return undefined;
  const host = parseHost(hostPart);
  return host ? { host: host.host, port, kind: host.kind } : undefined;
}

/** The CONNECT request-target: `host:port`, port required. */
export function parseConnectAuthority(raw: string): Target {
  const target = parseAuthority(raw, undefined);
  if (!target) throw new GatewayError('GW_BAD_TARGET', 'CONNECT target is not host:port');
  return target;
}

/** A Host header value: `host[:port]`; undefined when it is not exactly one valid authority. */
export function parseHostHeader(raw: string, defaultPort: number): Target | undefined {
  return parseAuthority(raw, defaultPort);
}

const HTTP_SCHEME = /^http:\/\//i;
// Path and query as sent on the wire: visible ASCII only, and no fragment.
const PATH_CHARS = /^[\x21-\x22\x24-\x7e]*$/;

/**
 * An absolute-form plain-HTTP target, `http://host[:port]/path?query`. Split by hand rather
 * than with WHATWG URL, which would percent-decode and map characters into a different host.
 */
export function parseAbsoluteHttpUrl(raw: string): { target: Target; path: string } {
  const bad = (why: string): never => {
    throw new GatewayError('GW_BAD_TARGET', why);
  };
  if (!HTTP_SCHEME.test(raw)) bad('not an absolute http:// URL');
  const rest = raw.slice('http://'.length);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  let path = end < 0 ? '' : rest.slice(end);
  if (authority.includes('@')) bad('userinfo in proxy URL');
  const target = parseAuthority(authority, 80) ?? bad('URL authority is not host[:port]');
  if (!PATH_CHARS.test(path)) bad('URL path has characters outside visible ASCII or a fragment');
  if (path === '') path = '/';
  else if (path.startsWith('?')) path = `/${path}`;
  return { target, path };
}

/** `host:port`, IPv6 in brackets: the one spelling used in logs and upstream Host headers. */
export function formatTarget(t: Target): string {
  return t.kind === 'ipv6' ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}
