import { request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline, type Transform } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { CheckedAddress, Target } from '../policy/types.js';
import { codecFor, InflationGuard, parseCoding } from '../swap/body-codec.js';
import { fromRaw, headerValue, stripForClient, toRaw, withoutHeader } from '../swap/headers.js';
import type { Scrubber } from '../swap/scrubber.js';
import type { HeaderList } from '../swap/types.js';
import type { ProxyDeps } from './deps.js';
import type { ExchangeRecord } from './exchange-record.js';
import { sendProblem } from './problem.js';
import { upstreamError } from './upstream-errors.js';

export interface Outbound {
  tls: boolean;
  target: Target;
  address: CheckedAddress;
  method: string;
  path: string;
  headers: HeaderList;
  /** Present when a credential was swapped in: the response is scrubbed of it. */
  scrubber: Scrubber | undefined;
}

/**
 * Sends one checked request to the address that was checked for its target (the TLS name is the
 * target's, never a header's) and streams the response back with backpressure both ways.
 */
export function forward(deps: ProxyDeps, req: IncomingMessage, res: ServerResponse, out: Outbound, record: ExchangeRecord): void {
  const headers = req.headers['transfer-encoding'] !== undefined ? [...out.headers, ['Transfer-Encoding', 'chunked'] as [string, string]] : out.headers;
  const upstream = (out.tls ? httpsRequest : httpRequest)({
    host: out.address.address,
    family: out.address.family,
    port: out.target.port,
    servername: out.tls && out.target.kind === 'name' ? out.target.host : undefined,
    method: out.method,
    path: out.path,
    headers: toRaw(headers),
    setHost: false,
    agent: out.tls ? deps.httpsAgent : deps.httpAgent,
  });
  const fail = (e: unknown): void => {
    const err = upstreamError(e);
    record.fail(err);
    upstream.destroy();
    if (res.headersSent) res.destroy();
    else sendProblem(res, err, record.requestId, true);
  };
  armTimeouts(deps, upstream, out.tls, fail);
  upstream.on('error', fail);
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });

  if (hasBody(req)) {
    req.on('data', (chunk: Buffer) => (record.bytesOut += chunk.length));
    pipeline(req, upstream, (e) => {
      if (e && !res.headersSent) fail(e);
    });
  } else {
    // Most API calls have no body: skip the pipeline machinery (an AbortSignal per call).
    req.resume();
    upstream.end();
  }

  upstream.on('response', (upRes) => {
    try {
      relayResponse(upRes, res, out, record, fail);
    } catch (e) {
      upRes.resume();
      fail(e);
    }
  });
}

function armTimeouts(deps: ProxyDeps, upstream: ClientRequest, tls: boolean, fail: (e: unknown) => void): void {
  const connectTimer = setTimeout(() => fail(new GatewayError('GW_UPSTREAM_TIMEOUT', 'connect')), deps.limits.upstreamConnectMs);
  connectTimer.unref();
  const connected = (): void => clearTimeout(connectTimer);
  upstream.on('socket', (socket) => {
    if (upstream.reusedSocket) connected();
    else socket.once(tls ? 'secureConnect' : 'connect', connected);
  });
  upstream.on('close', connected);
  upstream.setTimeout(deps.limits.upstreamResponseMs, () => fail(new GatewayError('GW_UPSTREAM_TIMEOUT', 'idle')));
}

function relayResponse(upRes: IncomingMessage, res: ServerResponse, out: Outbound, record: ExchangeRecord, fail: (e: unknown) => void): void {
  const status = upRes.statusCode ?? 502;
  let headers = stripForClient(fromRaw(upRes.rawHeaders));
  const scrubber = out.scrubber?.active ? out.scrubber : undefined;
  const stages: Transform[] = [];

  if (scrubber) {
    headers = headers.map(([k, v]) => [k, scrubber.scrubString(v)]);
    const coding = parseCoding(headerValue(headers, 'content-encoding'));
    if (coding === undefined) throw new GatewayError('GW_UPSTREAM_PROTOCOL', 'response coding cannot be scrubbed');
    headers = withoutHeader(headers, 'content-length');
    if (coding === 'identity') {
      stages.push(scrubber.stream());
    } else {
      const { decode, encode } = codecFor(coding);
      stages.push(decode, new InflationGuard(() => record.bytesIn), scrubber.stream(), encode);
    }
  }
  record.status = status;
  const message = safeStatusMessage(upRes.statusMessage);
  res.writeHead(status, scrubber && message !== undefined ? scrubber.scrubString(message) : message, toRaw(headers));
  upRes.on('data', (chunk: Buffer) => (record.bytesIn += chunk.length));
  if (stages.length === 0) {
    // Untouched bodies: a plain pipe keeps backpressure without pipeline's per-call machinery.
    upRes.on('error', fail);
    upRes.on('aborted', () => fail(new GatewayError('GW_UPSTREAM_PROTOCOL', 'response aborted')));
    res.on('close', () => upRes.destroy());
    upRes.pipe(res);
    return;
  }
  pipeline([upRes, ...stages, res], (e) => {
    if (e) fail(e);
  });
}

/** Whether a request has a body to stream upstream (RFC 9112 §6.3: only CL or TE say so). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function safeStatusMessage(message: string | undefined): string | undefined {
  return message !== undefined && /^[\t\x20-\x7e]{0,128}$/.test(message) ? message : undefined;
}
