import { UsageError } from '../errors.js';
import type { SchemeSpec } from '../store/types.js';

// RFC 9110 token characters: what a header name may be made of.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
const QUERY_PARAM = /^[A-Za-z0-9._~-]{1,64}$/;

// Headers a scheme may not target: they control framing, routing or the proxy itself, or they are
// the place another scheme owns.
const FORBIDDEN_HEADERS = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te',
  'trailer', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'cookie', 'authorization',
]);

/** Parses `bearer | basic | header:NAME | query:NAME` as given to `secret create --scheme`. */
export function parseSchemeSpec(raw: string): SchemeSpec {
  const s = raw.trim();
  if (s.toLowerCase() === 'bearer') return { kind: 'bearer' };
  if (s.toLowerCase() === 'basic') return { kind: 'basic' };
  const colon = s.indexOf(':');
  const kind = colon < 0 ? s.toLowerCase() : s.slice(0, colon).toLowerCase();
  const arg = colon < 0 ? '' : s.slice(colon + 1);
  if (kind === 'header') {
    if (!HEADER_NAME.test(arg)) throw new UsageError(`invalid header name in scheme '${printable(s)}'`);
    const header = arg.toLowerCase();
    if (FORBIDDEN_HEADERS.has(header) || header.startsWith('proxy-')) {
      throw new UsageError(`scheme header:${header} is not allowed (use --scheme bearer or basic for Authorization)`);
    }
    return { kind: 'header', header };
  }
  if (kind === 'query') {
    if (!QUERY_PARAM.test(arg)) throw new UsageError(`invalid query parameter name in scheme '${printable(s)}'`);
    return { kind: 'query', param: arg };
  }
  throw new UsageError(`unknown scheme '${printable(s)}': use bearer, basic, header:NAME or query:NAME`);
}

export function formatSchemeSpec(spec: SchemeSpec): string {
  switch (spec.kind) {
    case 'bearer':
    case 'basic':
      return spec.kind;
    case 'header':
      return `header:${spec.header}`;
    case 'query':
      return `query:${spec.param}`;
  }
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
}
