import { constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { GatewayError } from '../errors.js';
import type { Exchange } from '../exchange/exchange.js';
import type { Forward } from '../exchange/flow.js';
import { headerValue, headerValues, stripForClient, toRaw, withoutHeader, type HeaderList } from '../model/headers.js';
import { codecChain, InflationGuard, parseCodings } from '../swap/body-codec.js';
import { GrpcScrubState, isGrpc } from '../swap/grpc-frames.js';
import { Scrubber } from '../swap/scrubber.js';
import type { ProxyDeps } from './deps.js';
import { fromH2Headers, h2Trailers, upstreamH2Headers } from './h2-headers.js';
import { sendProblem } from './problem.js';
import { relayBody } from './relay.js';
import type { BodySource, ResponseSink } from './sink.js';
import type { UpstreamTarget } from './upstream/open-upstream.js';
import type { UpstreamH2Sessions } from './upstream/h2-sessions.js';
import { upstreamError } from './upstream-errors.js';

// A gRPC "trailers-only" answer (HEADERS with END_STREAM) carries these; they are sent back as
// trailers, which every client reads, whatever the sandbox's protocol.
const GRPC_STATUS_FIELDS = new Set(['grpc-status', 'grpc-message', 'grpc-status-details-bin']);

/**
 * Forwards one exchange to an upstream that may speak HTTP/2: on a live h2 session of this
 * sandbox to this origin, or after an ALPN probe (h2-sessions.ts). An origin that picks HTTP/1.1
 * gets the request through `http1`, on the socket the probe opened when there is one.
 */
export function forwardNegotiated(
  deps: ProxyDeps,
  sessions: UpstreamH2Sessions,
  ex: Exchange,
  to: UpstreamTarget,
  fwd: Forward,
  body: BodySource,
  res: ResponseSink,
  http1: (socket?: TLSSocket) => void,
): void {
  sessions.route(to).then(
    (route) => {
      if (res.destroyed) {
        if (route.kind === 'h1') route.socket?.destroy();
        return;
      }
      if (route.kind === 'h1') http1(route.socket);
      else forwardOnSession(deps, ex, fwd, body, res, route.session);
    },
    (e: unknown) => {
      const err = upstreamError(e);
      ex.fail(err);
      ex.status = err.status;
      body.stream.resume();
      sendProblem(res, err, ex.id, true);
    },
  );
}

/**
 * One exchange as one stream on the sandbox's upstream h2 session, both directions streamed
 * with the streams' own flow control (a paused side stops the other's window), trailers relayed
 * both ways, RST_STREAM relayed both ways (a sandbox's cancel is the upstream's CANCEL, an
 * upstream reset reaches an h2 sandbox with its code), gRPC scrubbed without breaking framing.
 */
function forwardOnSession(deps: ProxyDeps, ex: Exchange, fwd: Forward, body: BodySource, res: ResponseSink, session: ClientHttp2Session): void {
  const streamed = fwd.body === undefined && body.present;
  let up: ClientHttp2Stream;
  try {
    up = session.request(upstreamH2Headers(fwd), {
      endStream: fwd.body === undefined && !body.present,
      waitForTrailers: streamed && body.trailers !== undefined,
    });
  } catch (e) {
    const err = upstreamError(e);
    ex.fail(err);
    ex.status = err.status;
    body.stream.resume();
    sendProblem(res, err, ex.id, true);
    return;
  }
  let failed = false;
  const fail = (e: unknown): void => {
    if (failed) return;
    failed = true;
    // Set before we close it ourselves: the upstream (or its session) reset the stream.
    const code = up.rstCode;
    const peerReset = code !== undefined && code !== constants.NGHTTP2_NO_ERROR;
    const err = peerReset ? new GatewayError('GW_UPSTREAM_PROTOCOL', 'stream reset') : upstreamError(e);
    ex.fail(err);
    if (!up.destroyed) up.close(constants.NGHTTP2_CANCEL);
    if (peerReset && code !== undefined && res.reset !== undefined) res.reset(code);
    else if (res.headersSent) res.destroy();
    else {
      ex.status = err.status;
      sendProblem(res, err, ex.id, true);
    }
  };
  up.on('error', fail);
  up.setTimeout(deps.limits.upstreamResponseMs, () => fail(new GatewayError('GW_UPSTREAM_TIMEOUT', 'idle')));
  // The sandbox went away (or reset its stream): the upstream hears CANCEL.
  res.on('close', () => {
    if (!res.writableFinished && !up.destroyed) up.close(constants.NGHTTP2_CANCEL);
  });

  if (fwd.body !== undefined) {
    ex.bytesOut += fwd.body.length;
    up.end(fwd.body);
  } else if (body.present) {
    body.stream.on('data', (chunk: Buffer) => (ex.bytesOut += chunk.length));
    up.once('wantTrailers', () => up.sendTrailers(h2Trailers(body.trailers?.() ?? [])));
    const done = (e: NodeJS.ErrnoException | null): void => {
      if (e && !res.headersSent) fail(e);
    };
    if (fwd.bodyTransform !== undefined) pipeline(body.stream, fwd.bodyTransform(), up, done);
    else pipeline(body.stream, up, done);
  } else body.stream.resume();

  up.once('response', (headers, flags) => {
    try {
      relayH2Response(up, headers, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0, res, fwd, ex, fail);
    } catch (e) {
      up.resume();
      fail(e);
    }
  });
}

function relayH2Response(
  up: ClientHttp2Stream,
  raw: IncomingHttpHeaders,
  endedWithHeaders: boolean,
  res: ResponseSink,
  fwd: Forward,
  ex: Exchange,
  fail: (e: unknown) => void,
): void {
  const status = Number(raw[':status'] ?? 502);
  const scrubber = fwd.scrubber?.active === true ? fwd.scrubber : undefined;
  let headers: HeaderList = stripForClient(fromH2Headers(raw));
  const grpc = isGrpc(headerValue(headers, 'content-type'));
  let trailersOnly: HeaderList = [];
  if (grpc && endedWithHeaders) {
    trailersOnly = headers.filter(([n]) => GRPC_STATUS_FIELDS.has(n.toLowerCase()));
    headers = headers.filter(([n]) => !GRPC_STATUS_FIELDS.has(n.toLowerCase()));
  }
  headers.push(['X-Standin-Request-Id', ex.id]);
  ex.status = status;
  up.on('data', (chunk: Buffer) => (ex.bytesIn += chunk.length));
  const addTrailers = (list: HeaderList): void => {
    const clean = stripForClient(list);
    if (clean.length > 0) res.addTrailers?.(scrubber ? scrubber.scrubHeaders(clean) : clean);
  };
  up.once('trailers', (t: IncomingHttpHeaders) => addTrailers(fromH2Headers(t)));
  if (trailersOnly.length > 0) addTrailers(trailersOnly);
  if (!scrubber) {
    res.writeHead(status, undefined, toRaw(headers));
    relayBody(up, res, undefined, fail);
    return;
  }
  headers = scrubber.scrubHeaders(headers);
  const bodiless = fwd.method === 'HEAD' || status < 200 || status === 204 || status === 304;
  if (!bodiless) headers = withoutHeader(headers, 'content-length');
  if (grpc) {
    // Length-prefixed messages: scrubbed in place, same length (grpc-frames.ts).
    const frames = grpcScrub(new GrpcScrubState(Scrubber.sameLength(fwd.reflections), headerValue(headers, 'grpc-encoding')));
    pipeline(up, frames, (e) => {
      if (e) fail(e);
    });
    res.writeHead(status, undefined, toRaw(headers));
    relayBody(frames, res, undefined, fail);
    return;
  }
  const codings = parseCodings(headerValues(headers, 'content-encoding'));
  if (codings === undefined) throw new GatewayError('GW_UPSTREAM_PROTOCOL', 'response coding cannot be scrubbed');
  if (codings.length === 0) {
    res.writeHead(status, undefined, toRaw(headers));
    relayBody(up, res, scrubber.state(), fail);
    return;
  }
  // Decoded, scrubbed and encoded again; the head waits for the first decoded bytes (forward.ts).
  const { decoders, encoders } = codecChain(codings);
  const chain = [...decoders, new InflationGuard(() => ex.bytesIn), scrubber.stream(), ...encoders];
  pipeline([up, ...chain], (e) => {
    if (e) fail(e);
  });
  relayBody(chain[chain.length - 1] as Transform, res, undefined, fail, () => res.writeHead(status, undefined, toRaw(headers)));
}

function grpcScrub(state: GrpcScrubState): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      try {
        const out = state.push(chunk);
        done(null, out.length > 0 ? out : undefined);
      } catch (e) {
        done(e as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        state.end();
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
}
