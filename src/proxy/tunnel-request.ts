import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { matchesAnyPattern } from '../policy/host-pattern.js';
import { checkTunnelRequest } from '../policy/request-checks.js';
import { restrictAcceptEncoding } from '../swap/body-codec.js';
import { fromRaw, mapHeader, stripHopByHop, withoutHeader } from '../model/headers.js';
import type { HeaderList } from '../model/headers.js';
import { planSwaps, type SwapDeps, type SwapPlan } from '../swap/plan.js';
import type { ProxyDeps, TunnelContext } from './deps.js';
import { ExchangeRecord } from './exchange-record.js';
import { forward, hasBody } from './forward.js';
import { asGatewayError, sendProblem } from './problem.js';
import { guardReflections } from './reflection-guard.js';

export function swapDeps(deps: ProxyDeps): SwapDeps {
  return {
    resolveToken: (token) => deps.store.resolveToken(token),
    secretValue: (id, version) => deps.secretValues.get(id, version),
    inScope: (hosts, target) => matchesAnyPattern(hosts, target),
  };
}

/**
 * One request inside an intercepted tunnel: check it against the tunnel, swap what may be
 * swapped, forward it to the tunnel's checked address, and log it — or refuse it and log that.
 */
export function handleTunnelRequest(deps: ProxyDeps, ctx: TunnelContext, req: IncomingMessage, res: ServerResponse): void {
  const record = new ExchangeRecord(deps.clock, req.method ?? '', 'https');
  record.sandbox = ctx.sandbox.name;
  record.tenant = ctx.sandbox.tenant;
  record.setTarget(ctx.target);
  record.setPath(req.url ?? '');
  record.upstreamIp = ctx.address.address;
  record.writeOnClose(res, deps.netlog);
  try {
    const plan = checkAndPlan(deps, ctx, req, record);
    // Scrubbed whenever a value could come back, swapped in this request or not (reflection-guard.ts).
    const scrubbing = plan.reflections.length > 0;
    const headers = answerExpectation(req, res, scrubbing ? mapHeader(plan.headers, 'accept-encoding', restrictAcceptEncoding) : plan.headers);
    forward(deps, req, res, {
      tls: true,
      target: ctx.target,
      address: ctx.address,
      method: req.method ?? 'GET',
      path: plan.path,
      headers,
      scrubber: scrubbing ? deps.reflections.scrubber(plan.reflections) : undefined,
    }, record);
  } catch (e) {
    const err = asGatewayError(e);
    if (err.code === 'GW_INTERNAL') deps.logger.error({ requestId: record.requestId, err: e }, 'request handling failed');
    record.fail(err);
    sendProblem(res, err, record.requestId, hasBody(req));
  }
}

/** Everything that decides whether and how a request goes upstream; throws a GatewayError. */
export function checkAndPlan(deps: ProxyDeps, ctx: TunnelContext, req: IncomingMessage, record: ExchangeRecord): SwapPlan {
  const raw = fromRaw(req.rawHeaders);
  const head = { httpVersion: req.httpVersion, method: req.method ?? '', url: req.url ?? '', headers: raw };
  const refused = checkTunnelRequest(head, ctx.target);
  if (refused) throw refused;
  // The sandbox may have been deleted since the tunnel opened: its tunnels stop working at once.
  const sandbox = deps.store.getSandboxById(ctx.sandbox.id);
  if (!sandbox) throw new GatewayError('GW_PROXY_AUTH', 'sandbox no longer exists');
  // Likewise a policy narrowed since CONNECT applies to the tunnel's next request.
  if (sandbox.allowHosts.length > 0 && !matchesAnyPattern(sandbox.allowHosts, ctx.target)) {
    throw new GatewayError('GW_EGRESS_DENIED', 'host outside the sandbox egress policy');
  }
  const outcome = planSwaps(
    { requestId: record.requestId, sandbox, target: ctx.target, method: head.method, path: head.url, headers: stripHopByHop(raw) },
    swapDeps(deps),
  );
  if (!outcome.ok) {
    record.secrets = outcome.secrets;
    throw outcome.error;
  }
  const { plan } = outcome;
  if (plan.swaps.length > 0) {
    record.decision = 'swapped';
    record.secrets = plan.swaps.map((s) => `${s.secretName}@${s.version}`);
  }
  // What this request swapped, then every other secret of the sandbox scoped here, expanded once
  // (cached: the same pairs give the same array, and so the same scrubber).
  const guard = guardReflections(deps, sandbox, ctx.target, new Set(plan.swaps.map((s) => s.secretId)));
  const base = guard.length === 0 ? plan.reflections : [...plan.reflections, ...guard];
  return { ...plan, reflections: base.length === 0 ? [] : deps.reflections.expand(base) };
}

/**
 * `Expect: 100-continue` is answered only once the request has passed every check, so a refused
 * request never invites its body. The upstream is not asked again: the body follows at once.
 */
export function answerExpectation(req: IncomingMessage, res: ServerResponse, headers: HeaderList): HeaderList {
  if (req.headers.expect === undefined) return headers;
  if (req.headers.expect.toLowerCase() === '100-continue') res.writeContinue();
  return withoutHeader(headers, 'expect');
}
