import type { ClientRequest, IncomingMessage } from 'node:http';
import { pipeline, type Transform } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { Exchange } from '../exchange/exchange.js';
import { logForwarded } from '../exchange/log-row.js';
import type { Forward } from '../exchange/flow.js';
import { fromRaw, headerValues, stripForClient, toRaw, withoutHeader } from '../model/headers.js';
import { codecChain, InflationGuard, onlyChunked, parseCodings, type Coding } from '../swap/body-codec.js';
import type { ProxyDeps } from './deps.js';
import { sendProblem } from './problem.js';
import type { BodySource, ResponseSink } from './sink.js';
import { collectBody, relayBody } from './relay.js';
import { openUpstream } from './upstream/open-upstream.js';
import { forwardNegotiated } from './h2-forward.js';
import { upstreamError } from './upstream-errors.js';

/**
 * Carries out a decision to forward one exchange: sends the request as the pipeline left it on one
 * of the sandbox's own upstream connections, and streams the response back to the sink with
 * backpressure both ways, scrubbed when the decision says so. Protocol adapters differ only in
 * the body source and response sink they pass.
 */
export function forward(deps: ProxyDeps, ex: Exchange, sandboxId: string, fwd: Forward, body: BodySource, res: ResponseSink): void {
  // A request the network log could not keep is not sent (the log's database away, its spool full).
  if (deps.netlog.accepting?.() === false) {
    const err = new GatewayError('GW_LOG_UNAVAILABLE');
    ex.fail(err);
    ex.status = err.status;
    sendProblem(res, err, ex.id, true);
    return;
  }
  // The row first: a writer that sends it on in a microtask or tick (a proxy worker's) then still
  // has it out before the request's bytes, which node:http writes in a later tick.
  ex.forwardedAt = deps.clock();
  logForwarded(ex, deps.netlog, ex.forwardedAt);
  // HTTP/2 upstream (h2-forward.ts) unless the origin is known to speak HTTP/1.1 only.
  const to = { sandboxId, tls: fwd.tls, target: fwd.target, address: fwd.address };
  const h2 = deps.upstreamH2;
  if (fwd.tls && h2 !== undefined && !h2.knownHttp1(to)) {
    forwardNegotiated(deps, h2, ex, to, fwd, body, res, (socket) => {
      // The probe's socket joins this sandbox's pool and carries this request (sandbox-agents.ts).
      if (socket !== undefined) deps.upstreams.handOff(to, socket);
      forwardHttp1(deps, ex, sandboxId, fwd, body, res, socket !== undefined);
    });
    return;
  }
  forwardHttp1(deps, ex, sandboxId, fwd, body, res);
}

/** `handedOff`: the connection is one the ALPN probe already opened (no connect deadline to arm). */
function forwardHttp1(deps: ProxyDeps, ex: Exchange, sandboxId: string, fwd: Forward, body: BodySource, res: ResponseSink, handedOff = false): void {
  const upstream = openUpstream(deps.upstreams, { sandboxId, tls: fwd.tls, target: fwd.target, address: fwd.address }, fwd);
  let failed = false;
  // The first failure decides the answer; later ones (an abort after a reset) are its echoes and
  // must not cut off the problem response the first one is sending.
  const fail = (e: unknown): void => {
    if (failed) return;
    failed = true;
    const err = upstreamError(e);
    ex.fail(err);
    upstream.destroy();
    if (res.headersSent) res.destroy();
    else {
      // The upstream's status was never sent: the sandbox got this problem instead.
      ex.status = err.status;
      sendProblem(res, err, ex.id, true);
    }
  };
  armTimeouts(deps, upstream, fwd.tls, handedOff, fail);
  upstream.on('error', fail);
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });

  if (fwd.body !== undefined) {
    // Read whole by a credential step (and possibly rewritten): sent as it now is.
    ex.bytesOut += fwd.body.length;
    upstream.end(fwd.body);
  } else if (body.present) {
    body.stream.on('data', (chunk: Buffer) => (ex.bytesOut += chunk.length));
    const done = (e: NodeJS.ErrnoException | null): void => {
      if (e && !res.headersSent) fail(e);
    };
    // A scheme that rewrites the body as it streams (SigV4 signed chunks) sits in between.
    if (fwd.bodyTransform !== undefined) pipeline(body.stream, fwd.bodyTransform(), upstream, done);
    else pipeline(body.stream, upstream, done);
  } else {
    // Most API calls have no body: skip the pipeline machinery (an AbortSignal per call).
    body.stream.resume();
    upstream.end();
  }

  upstream.on('response', (upRes) => {
    try {
      relayResponse(upRes, res, fwd, ex, fail);
    } catch (e) {
      upRes.resume();
      fail(e);
    }
  });
}

function armTimeouts(deps: ProxyDeps, upstream: ClientRequest, tls: boolean, connected: boolean, fail: (e: unknown) => void): void {
  // The agent hands out a free keep-alive socket synchronously (and marks the request): then
  // there is nothing to connect and no connect deadline to arm and clear on every request.
  if (!upstream.reusedSocket && !connected) {
    const connectTimer = setTimeout(() => fail(new GatewayError('GW_UPSTREAM_TIMEOUT', 'connect')), deps.limits.upstreamConnectMs);
    connectTimer.unref();
    const connected = (): void => clearTimeout(connectTimer);
    upstream.on('socket', (socket) => {
      // A handed-off socket (an ALPN probe's, or a tunnel's early dial) connected before it came.
      if (upstream.reusedSocket || deps.upstreams.adopted(socket)) connected();
      else socket.once(tls ? 'secureConnect' : 'connect', connected);
    });
    upstream.on('close', connected);
  }
  upstream.setTimeout(deps.limits.upstreamResponseMs, () => fail(new GatewayError('GW_UPSTREAM_TIMEOUT', 'idle')));
}

function relayResponse(upRes: IncomingMessage, res: ResponseSink, fwd: Forward, ex: Exchange, fail: (e: unknown) => void): void {
  const status = upRes.statusCode ?? 502;
  // Upstream x-standin-* fields are dropped (stripForClient): this one is the gateway's, so a
  // sandbox can cite the exchange (`standin log explain ID`).
  let headers = stripForClient(fromRaw(upRes.rawHeaders));
  headers.push(['X-Standin-Request-Id', ex.id]);
  const scrubber = fwd.scrubber?.active ? fwd.scrubber : undefined;
  const message = safeStatusMessage(upRes.statusMessage);
  // The client undoes every coding layer: the scrubber must see through all of them, or nothing
  // is forwarded (a body it could not read could carry the value).
  const codings = scrubber ? readableCodings(upRes) : [];
  ex.status = status;
  // Bytes received are counted by the relay's own listener where it reads upRes itself: one
  // listener call per chunk instead of two on a stream's hot path.
  const count = (n: number): void => void (ex.bytesIn += n);
  if (!scrubber) {
    res.writeHead(status, message, toRaw(headers));
    relayBody(upRes, res, undefined, fail, undefined, count);
    return;
  }

  headers = scrubber.scrubHeaders(headers);
  const scrubbedMessage = message !== undefined ? scrubber.scrubString(message) : undefined;
  const length = smallBodyLength(upRes, fwd.method);
  // A HEAD answer (and 1xx/204/304) has no body to scrub: its Content-Length is what a GET would
  // carry, and clients need it (the AWS CLI's download asks HEAD for the object's size).
  const bodiless = fwd.method === 'HEAD' || status < 200 || status === 204 || status === 304;
  if (!bodiless) headers = withoutHeader(headers, 'content-length');
  if (codings.length === 0 && length !== undefined) {
    upRes.on('data', (chunk: Buffer) => count(chunk.length));
    // Most API responses: scrub the whole body at once and answer with its exact length.
    collectBody(upRes, length, fail, (body) => {
      const scrubbed = scrubber.scrubChunk(body, true).out;
      res.writeHead(status, scrubbedMessage, toRaw([...headers, ['Content-Length', String(scrubbed.length)]]));
      res.end(scrubbed);
    });
    return;
  }
  if (codings.length === 0) {
    res.writeHead(status, scrubbedMessage, toRaw(headers));
    relayBody(upRes, res, scrubber.state(), fail, undefined, count);
    return;
  }
  upRes.on('data', (chunk: Buffer) => count(chunk.length));
  // Decoded, scrubbed and encoded again, layer by layer. The head waits for the first decoded
  // bytes: a body that does not decode as labelled is answered 502, not relayed or half-sent.
  const { decoders, encoders } = codecChain(codings);
  const chain = [...decoders, new InflationGuard(() => ex.bytesIn), scrubber.stream(), ...encoders];
  pipeline([upRes, ...chain], (e) => {
    if (e) fail(e);
  });
  relayBody(chain[chain.length - 1] as Transform, res, undefined, fail, () => res.writeHead(status, scrubbedMessage, toRaw(headers)));
}

/** The response's content codings, all of which the scrubber can read; else GW_UPSTREAM_PROTOCOL. */
export function readableCodings(upRes: IncomingMessage): Coding[] {
  const raw = fromRaw(upRes.rawHeaders);
  const codings = parseCodings(headerValues(raw, 'content-encoding'));
  if (codings === undefined || !onlyChunked(headerValues(raw, 'transfer-encoding'))) {
    throw new GatewayError('GW_UPSTREAM_PROTOCOL', 'response coding cannot be scrubbed');
  }
  return codings;
}

// Swapped bodies up to this size are scrubbed whole instead of streamed (see relayResponse).
const SMALL_BODY = 64 * 1024;

/**
 * The body length when the response has a body of known length up to SMALL_BODY; undefined
 * otherwise (streamed). HEAD answers and 1xx/204/304 have no body whatever Content-Length says.
 */
function smallBodyLength(upRes: IncomingMessage, method: string): number | undefined {
  const status = upRes.statusCode ?? 0;
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) return undefined;
  if (upRes.headers['transfer-encoding'] !== undefined) return undefined;
  const raw = upRes.headers['content-length'];
  if (raw === undefined || !/^\d{1,9}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= SMALL_BODY ? n : undefined;
}

/** Whether an HTTP/1.1 request has a body to stream upstream (RFC 9112 §6.3: only CL or TE say so). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function safeStatusMessage(message: string | undefined): string | undefined {
  return message !== undefined && /^[\t\x20-\x7e]{0,128}$/.test(message) ? message : undefined;
}
