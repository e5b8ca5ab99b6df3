import { GatewayError } from '../errors.js';
import { countHeader, headerValue } from '../model/headers.js';
import type { HeaderList } from '../model/headers.js';
import { parseHostHeader } from './target.js';
import type { Target } from '../model/target.js';

export interface RequestHead {
  httpVersion: string;
  method: string;
  url: string;
  headers: HeaderList;
}

// Methods that make no sense through a credential gateway: TRACE reflects the request (and so
// the swapped credential), CONNECT inside a tunnel would open a tunnel we do not inspect.
const REFUSED_METHODS = new Set(['TRACE', 'TRACK', 'CONNECT']);

/**
 * Checks one request inside a tunnel before anything else looks at it. The tunnel's CONNECT
 * target is the only authority: the Host header must name it, and absolute-form targets are
 * refused rather than compared, so no second parser can disagree with the first.
 */
export function checkTunnelRequest(head: RequestHead, target: Target, h2 = false): GatewayError | undefined {
  const versionError = h2 ? (head.httpVersion === '2.0' ? undefined : new GatewayError('GW_HTTP_VERSION')) : checkVersion(head);
  if (versionError) return versionError;
  if (REFUSED_METHODS.has(head.method.toUpperCase())) return new GatewayError('GW_METHOD_DENIED', head.method.slice(0, 16));
  if (!head.url.startsWith('/')) {
    return new GatewayError(head.url === '*' ? 'GW_BAD_REQUEST' : 'GW_HOST_MISMATCH', 'request target not in origin-form');
  }
  // RFC 9112 §3.2: a request with more than one Host field is answered 400.
  const hosts = countHeader(head.headers, 'host');
  if (hosts > 1) return new GatewayError('GW_BAD_REQUEST', 'more than one Host header');
  if (hosts === 0) return new GatewayError('GW_HOST_MISMATCH', 'no Host header');
  const host = parseHostHeader(headerValue(head.headers, 'host') ?? '', 443);
  if (!host || host.host !== target.host || host.port !== target.port) {
    return new GatewayError('GW_HOST_MISMATCH', 'Host differs from the CONNECT target');
  }
  return checkCredentialsHeaders(head.headers);
}

/** Plain-HTTP proxy requests: same version and method rules; the target is the absolute URL. */
export function checkPlainRequest(head: RequestHead): GatewayError | undefined {
  const versionError = checkVersion(head);
  if (versionError) return versionError;
  if (REFUSED_METHODS.has(head.method.toUpperCase())) return new GatewayError('GW_METHOD_DENIED', head.method.slice(0, 16));
  return checkCredentialsHeaders(head.headers);
}

function checkVersion(head: RequestHead): GatewayError | undefined {
  if (head.httpVersion === '1.1') return undefined;
  if (head.httpVersion === '1.0' && countHeader(head.headers, 'transfer-encoding') === 0) return undefined;
  return new GatewayError('GW_HTTP_VERSION', `HTTP/${head.httpVersion.slice(0, 8)}`);
}

// Node's header view keeps the first of two Authorization headers while both would be
// forwarded: a request with two is ambiguous, so it is refused.
function checkCredentialsHeaders(headers: HeaderList): GatewayError | undefined {
  if (countHeader(headers, 'authorization') > 1) return new GatewayError('GW_BAD_REQUEST', 'duplicate Authorization header');
  return undefined;
}
