import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { headerValue, type HeaderList } from '../model/headers.js';
import { formatTarget } from '../policy/target.js';
import type { Forward } from '../exchange/flow.js';
import { isGrpc } from '../swap/grpc-frames.js';

// RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2; Host becomes :authority.
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te', 'host']);

/**
 * The request head as the pipeline left it, as an HTTP/2 request: pseudo-headers from the
 * method, path and Host (which the pipeline checked against the CONNECT target), connection-
 * specific fields dropped (`te` survives only as `te: trailers`, which gRPC servers require).
 * When the response is scrubbed, gRPC messages are asked for uncompressed (grpc-frames.ts still
 * reads gzip and deflate if the server compresses anyway).
 */
export function upstreamH2Headers(fwd: Forward): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {
    ':method': fwd.method,
    ':scheme': 'https',
    ':authority': headerValue(fwd.headers, 'host') ?? formatTarget(fwd.target),
    ':path': fwd.path,
  };
  const grpc = isGrpc(headerValue(fwd.headers, 'content-type'));
  for (const [n, v] of fwd.headers) {
    const name = n.toLowerCase();
    if (NOT_FORWARDED.has(name) || name.startsWith(':') || name.startsWith('proxy-')) continue;
    if (name === 'grpc-accept-encoding' && fwd.scrubber?.active === true) continue;
    const prev = out[name];
    out[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  if (grpc) {
    out.te = 'trailers';
    if (fwd.scrubber?.active === true) out['grpc-accept-encoding'] = 'identity';
  }
  return out;
}

/** Trailer fields bound for HTTP/2: no pseudo-headers, no connection-specific fields. */
export function h2Trailers(list: readonly [string, string][]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [n, v] of list) {
    const name = n.toLowerCase();
    if (NOT_FORWARDED.has(name) || name.startsWith(':') || name.startsWith('proxy-')) continue;
    const prev = out[name];
    out[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** An HTTP/2 header block as a list, pseudo-headers left out (repeated fields stay repeated). */
export function fromH2Headers(headers: IncomingHttpHeaders): HeaderList {
  const list: HeaderList = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) list.push([name, v]);
    else list.push([name, String(value)]);
  }
  return list;
}
