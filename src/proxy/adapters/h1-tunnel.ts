import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors.js';
import { Exchange } from '../../exchange/exchange.js';
import type { Forward } from '../../exchange/flow.js';
import { logExchange } from '../../exchange/log-row.js';
import { decide } from '../../exchange/pipeline.js';
import type { ProxyDeps, TunnelContext } from '../deps.js';
import { forward, hasBody } from '../forward.js';
import { asGatewayError, sendProblem } from '../problem.js';
import { h1Input } from './h1-input.js';
import { answerCheck } from './check-answer.js';
import { settle } from './settle.js';

/**
 * One HTTP/1.1 request inside an intercepted tunnel: an Exchange through the pipeline, then its
 * decision carried out — forwarded to the tunnel's checked address, or refused — and logged.
 */
export function handleTunnelRequest(deps: ProxyDeps, ctx: TunnelContext, req: IncomingMessage, res: ServerResponse): void {
  const ex = new Exchange(deps.clock(), 'http/1.1', req.method ?? '');
  ex.sandbox = ctx.sandbox;
  ex.target = ctx.target;
  ex.address = ctx.address;
  ex.setPath(req.url ?? '');
  logWhenClosed(deps, ex, res);
  const input = h1Input(ex, ctx.sandbox, ctx.target, ctx.address, req, req.url ?? '', res);
  settle(
    () => decide(input, deps.pipeline),
    (fwd) => {
      if (!ctx.check) return send(deps, ex, ctx.sandbox.id, fwd, req, res);
      req.resume();
      answerCheck(ex, fwd, res);
    },
    (e) => refuse(deps, ex, e, req, res),
  );
}

/** Carries out a decision to forward (shared by the tunnel and plain-HTTP adapters). */
export function send(deps: ProxyDeps, ex: Exchange, sandboxId: string, fwd: Forward, req: IncomingMessage, res: ServerResponse): void {
  // A body read by a step was invited then; otherwise the client is told to go on now.
  if (fwd.expectsContinue && fwd.body === undefined) res.writeContinue();
  forward(deps, ex, sandboxId, fwd, { stream: req, present: hasBody(req) }, res);
}

/** Answers a refusal as problem+json; an unexpected error is logged (by known fields only). */
export function refuse(deps: ProxyDeps, ex: Exchange, e: unknown, req: IncomingMessage, res: ServerResponse): void {
  const err = asGatewayError(e);
  if (err.code === 'GW_INTERNAL') deps.logger.error({ requestId: ex.id, err: e }, 'request handling failed');
  ex.fail(err);
  sendProblem(res, err, ex.id, hasBody(req));
}

/** The row is written when the response closes; a response closed before it finished was aborted. */
export function logWhenClosed(deps: ProxyDeps, ex: Exchange, res: ServerResponse): void {
  res.once('close', () => {
    if (!res.writableFinished) ex.fail(new GatewayError('GW_CLIENT_ABORTED'));
    logExchange(ex, deps.netlog, deps.clock());
  });
}
