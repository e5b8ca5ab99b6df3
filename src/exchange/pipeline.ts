import type { Transform } from 'node:stream';
import { GatewayError } from '../errors.js';
import { stripHopByHop } from '../model/headers.js';
import { queryParams } from '../swap/find-tokens.js';
import type { CredentialRequest } from '../swap/schemes/scheme.js';
import type { PipelineDeps } from './deps.js';
import type { ExchangeInput, Flow, Forward } from './flow.js';
import { requestChecks } from './steps/request-checks.js';
import { sandboxRefresh } from './steps/sandbox-refresh.js';
import { egress } from './steps/egress.js';
import { findStandIns } from './steps/find-stand-ins.js';
import { plan } from './steps/plan.js';
import { credentials } from './steps/credentials.js';
import { reflectionGuard } from './steps/reflection-guard.js';
import { headerFinishing } from './steps/header-finishing.js';
import { signing } from './steps/signing.js';

/**
 * One step of the pipeline. It reads and changes the flow, or throws a GatewayError to refuse the
 * exchange. A step may return a promise (a DNS check, a token exchange, a body it must read); the
 * others run synchronously, so a request that needs nothing async is decided in one turn.
 */
export interface Step {
  readonly name: string;
  run(flow: Flow): void | Promise<void>;
}

/** The order every exchange goes through. Signing is last: nothing changes a request after it. */
export const STEPS: readonly Step[] = [
  requestChecks,
  sandboxRefresh,
  egress,
  findStandIns,
  plan,
  credentials,
  reflectionGuard,
  headerFinishing,
  signing,
];

/**
 * Decides one exchange: the request to send, or a GatewayError thrown (synchronously or through the
 * promise). The exchange record is filled in on the way (sandbox, secrets, decision).
 */
export function decide(input: ExchangeInput, deps: PipelineDeps, steps: readonly Step[] = STEPS): Forward | Promise<Forward> {
  const flow = startFlow(input, deps);
  const pending = runFrom(steps, 0, flow);
  return pending === undefined ? finish(flow) : pending.then(() => finish(flow));
}

function runFrom(steps: readonly Step[], from: number, flow: Flow): Promise<void> | undefined {
  for (let i = from; i < steps.length; i++) {
    const r = steps[i]?.run(flow);
    if (r !== undefined) return r.then(() => runFrom(steps, i + 1, flow));
  }
  return undefined;
}

function startFlow(input: ExchangeInput, deps: PipelineDeps): Flow {
  const signers: Flow['signers'] = [];
  const transforms: (() => Transform)[] = [];
  const request: CredentialRequest = {
    method: input.head.method,
    path: input.path,
    target: input.target,
    now: deps.clock(),
    // A copy without hop-by-hop and proxy fields: the adapter's view is never changed, and what
    // is searched for stand-ins is exactly what would be forwarded.
    headers: stripHopByHop(input.head.headers).map(([n, v]) => [n, v]),
    query: queryParams(input.path),
    addSigner: (sign) => void signers.push(sign),
    transformBody: (make) => {
      if (transforms.length > 0) throw new GatewayError('GW_BODY_UNSUPPORTED', 'two schemes rewrite the same streamed body');
      transforms.push(make);
    },
  };
  input.exchange.sandbox = input.sandbox;
  input.exchange.target = input.target;
  if (input.address) input.exchange.address = input.address;
  return {
    input,
    exchange: input.exchange,
    deps,
    sandbox: input.sandbox,
    address: input.address,
    request,
    found: [],
    planned: [],
    reflections: [],
    scrubber: undefined,
    scrubbed: [],
    signers,
    get bodyTransform() {
      return transforms[0];
    },
    expectsContinue: false,
    extraHeaders: [],
  };
}

function finish(flow: Flow): Forward {
  const { request, address } = flow;
  if (address === undefined) throw new Error('pipeline ended without a checked address');
  return {
    tls: flow.input.exchange.protocol !== 'http',
    target: flow.input.target,
    address,
    method: request.method,
    path: request.path,
    headers: request.headers,
    body: request.body,
    ...(flow.bodyTransform === undefined || request.body !== undefined ? {} : { bodyTransform: flow.bodyTransform }),
    scrubber: flow.scrubber,
    reflections: flow.scrubbed,
    expectsContinue: flow.expectsContinue,
  };
}

/** The path with the query as the credential steps left it (re-encoded where a value went in). */
export function rebuildPath(req: Pick<CredentialRequest, 'path' | 'query'>): string {
  const q = req.path.indexOf('?');
  if (q < 0 || req.query.length === 0) return req.path;
  return `${req.path.slice(0, q)}?${req.query.map((p) => p.raw).join('&')}`;
}
