import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { ResponseSink } from './sink.js';

/**
 * Refusals are RFC 9457 problem documents with a stable code and the network-log request id, so
 * the program in the sandbox (or its operator) can see why. Only our own fixed strings go in.
 */
export function problemBody(err: GatewayError, requestId: string): string {
  return JSON.stringify({
    type: `urn:standin:error:${err.code}`,
    title: err.title,
    status: err.status,
    code: err.code,
    request_id: requestId,
  });
}

function problemHeaders(err: GatewayError, requestId: string, body: string): [string, string][] {
  const headers: [string, string][] = [
    ['Content-Type', 'application/problem+json'],
    ['Content-Length', String(Buffer.byteLength(body))],
    ['X-Standin-Error', err.code],
    ['X-Standin-Request-Id', requestId],
    ['Cache-Control', 'no-store'],
  ];
  if (err.status === 407) headers.push(['Proxy-Authenticate', 'Basic realm="standin"']);
  return headers;
}

export function sendProblem(res: ResponseSink, err: GatewayError, requestId: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = problemBody(err, requestId);
  const headers = problemHeaders(err, requestId, body);
  if (close) headers.push(['Connection', 'close']);
  res.writeHead(err.status, undefined, headers.flat());
  res.end(body);
}

/** The same, written on a raw socket (CONNECT refusals, upgrade refusals), then closed. */
export function writeRawProblem(socket: Duplex, err: GatewayError, requestId: string): void {
  if (socket.destroyed || !socket.writable) return;
  const body = problemBody(err, requestId);
  const lines = [`HTTP/1.1 ${err.status} ${reasonPhrase(err.status)}`];
  for (const [k, v] of problemHeaders(err, requestId, body)) lines.push(`${k}: ${v}`);
  lines.push('Connection: close', '', body);
  socket.end(lines.join('\r\n'));
}

function reasonPhrase(status: number): string {
  switch (status) {
    case 400: return 'Bad Request';
    case 403: return 'Forbidden';
    case 405: return 'Method Not Allowed';
    case 407: return 'Proxy Authentication Required';
    case 408: return 'Request Timeout';
    case 413: return 'Content Too Large';
    case 421: return 'Misdirected Request';
    case 502: return 'Bad Gateway';
    case 504: return 'Gateway Timeout';
    case 505: return 'HTTP Version Not Supported';
    default: return 'Error';
  }
}

export function asGatewayError(e: unknown): GatewayError {
  return e instanceof GatewayError ? e : new GatewayError('GW_INTERNAL');
}
