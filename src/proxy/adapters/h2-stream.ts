import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { GatewayError } from '../../errors.js';
import { Exchange } from '../../exchange/exchange.js';
import type { ExchangeInput } from '../../exchange/flow.js';
import { logExchange } from '../../exchange/log-row.js';
import { decide } from '../../exchange/pipeline.js';
import { fromRaw, type HeaderList } from '../../model/headers.js';
import type { ProxyDeps, TunnelContext } from '../deps.js';
import { forward } from '../forward.js';
import { h2Sink } from '../h2-sink.js';
import { H2_EVENT, logH2Event, type H2Guard } from '../h2-guard.js';
import { asGatewayError, sendProblem } from '../problem.js';
import { readWhole } from './read-body.js';
import { answerCheck } from './check-answer.js';
import { settle } from './settle.js';

/**
 * One HTTP/2 stream inside an intercepted tunnel: one Exchange through the same pipeline as an
 * HTTP/1.1 request (its `:authority` is its Host and must name the CONNECT target), answered on
 * the stream — forwarded, or refused as problem+json — and logged with one row.
 */
export function handleH2Stream(deps: ProxyDeps, ctx: TunnelContext, req: Http2ServerRequest, res: Http2ServerResponse, guard?: H2Guard): void {
  const ex = new Exchange(deps.clock(), 'h2', req.method);
  ex.sandbox = ctx.sandbox;
  ex.target = ctx.target;
  ex.address = ctx.address;
  ex.setPath(req.url);
  const sink = h2Sink(res, (id) => guard?.relayingReset(id));
  limitStream(deps, ctx, ex, req);
  sink.once('close', () => {
    if (!sink.writableFinished) ex.fail(new GatewayError('GW_CLIENT_ABORTED'));
    logExchange(ex, deps.netlog, deps.clock());
  });
  const present = !req.stream.endAfterHeaders;
  const input: ExchangeInput = {
    exchange: ex,
    sandbox: ctx.sandbox,
    target: ctx.target,
    address: ctx.address,
    head: { httpVersion: '2.0', method: req.method, url: req.url, headers: h2Headers(req) },
    path: req.url,
    body: { present, read: (limit) => readWhole(req, limit) },
  };
  settle(
    () => decide(input, deps.pipeline),
    (fwd) => {
      const trailers = (): HeaderList | undefined => (req.rawTrailers.length > 0 ? fromRaw(req.rawTrailers) : undefined);
      if (!ctx.check) return forward(deps, ex, ctx.sandbox.id, fwd, { stream: req, present, trailers }, sink);
      req.resume();
      answerCheck(ex, fwd, sink);
    },
    (e) => {
      const err = asGatewayError(e);
      if (err.code === 'GW_INTERNAL') deps.logger.error({ requestId: ex.id, err: e }, 'h2 stream handling failed');
      ex.fail(err);
      sendProblem(sink, err, ex.id);
    },
  );
}

/**
 * The stream's fields as the pipeline reads a request head: pseudo-headers out, `:authority` in as
 * Host. A Host field that says something else stays too, so the request is refused (two Hosts).
 */
function h2Headers(req: Http2ServerRequest): HeaderList {
  const list: HeaderList = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!name.startsWith(':')) list.push([name, raw[i + 1] as string]);
  }
  const authority = req.headers[':authority'];
  if (typeof authority === 'string') {
    const host = list.findIndex(([n]) => n.toLowerCase() === 'host');
    if (host < 0) list.unshift(['Host', authority]);
    else if (list[host]?.[1] !== authority) list.unshift(['Host', authority]);
  }
  return list;
}

/**
 * Deadlines of one stream: idle (no byte moved either way: a sandbox whose window never opens,
 * or a silent stream) and total (a stream that never ends). Either resets it with CANCEL, fails
 * the exchange with GW_TIMEOUT and logs the event; the upstream hears the cancel (h2-forward.ts).
 * Progress is the exchange's byte counts: Node's own stream timeout is not reliable on a bridged
 * session (it can be refreshed by the session's writes for other streams).
 */
function limitStream(deps: ProxyDeps, ctx: TunnelContext, ex: Exchange, req: Http2ServerRequest): void {
  const { stream } = req;
  const cut = (code: string, message: string): void => {
    if (stream.destroyed) return;
    logH2Event(deps.logger, ctx, code, message, { requestId: ex.id });
    ex.fail(new GatewayError('GW_TIMEOUT', message));
    stream.once('error', () => undefined);
    stream.close(constants.NGHTTP2_CANCEL);
  };
  let moved = -1;
  let idle: NodeJS.Timeout | undefined;
  const check = (): void => {
    const now = ex.bytesIn + ex.bytesOut;
    if (now === moved) return cut(H2_EVENT.STREAM_IDLE, 'h2 stream idle');
    moved = now;
    idle = setTimeout(check, deps.limits.h2StreamIdleMs);
    idle.unref();
  };
  check();
  const total = setTimeout(() => cut(H2_EVENT.STREAM_TOO_LONG, 'h2 stream open too long'), deps.limits.h2StreamMaxMs);
  total.unref();
  stream.once('close', () => {
    clearTimeout(total);
    clearTimeout(idle);
  });
}
