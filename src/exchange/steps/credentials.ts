import { GatewayError } from '../../errors.js';
import type { Reflection } from '../../swap/schemes/scheme.js';
import type { FoundToken } from '../../swap/types.js';
import type { Flow, PlannedToken } from '../flow.js';
import type { Step } from '../pipeline.js';
import { label } from './plan.js';

/**
 * Places each real value where its scheme says, on the outgoing copy of the request. A scheme may
 * ask for the body (read whole, bounded) and may be async; the rest of the request is decided in
 * the same turn. What each placement wrote is kept as reflections for the response scrubber.
 */
export const credentials: Step = {
  name: 'credentials',
  run(flow) {
    if (flow.planned.length === 0) return undefined;
    const limits = flow.planned.flatMap((p) => {
      if (p.scheme.needsBody !== undefined) return [p.scheme.needsBody];
      return p.scheme.wantsBody?.(flow.request) === true ? [flow.deps.maxBodyBytes] : [];
    });
    if (limits.length === 0 || !flow.input.body.present || flow.request.body !== undefined) return applyFrom(flow, 0);
    return readBody(flow, Math.min(flow.deps.maxBodyBytes, ...limits)).then(() => applyFrom(flow, 0));
  },
};

async function readBody(flow: Flow, limit: number): Promise<void> {
  flow.request.body = await flow.input.body.read(limit);
}

function applyFrom(flow: Flow, from: number): Promise<void> | undefined {
  const seen = new Set<string>();
  for (let i = from; i < flow.planned.length; i++) {
    const p = flow.planned[i] as PlannedToken;
    // The same token twice in one place is replaced in one go.
    const key = `${locationKey(p.found)}\u0000${p.found.token}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const placed = place(flow, p);
    if (placed instanceof Promise) return placed.then(() => applyFrom(flow, i + 1));
  }
  return undefined;
}

function place(flow: Flow, p: PlannedToken): Promise<void> | undefined {
  const { secret, version } = p.resolution;
  if (version === null) throw new GatewayError('GW_SECRET_UNAVAILABLE', 'secret has no value in this environment');
  let plain: string;
  try {
    plain = flow.deps.secretValue(secret.id, version).expose();
  } catch {
    flow.exchange.secrets = [label(p.resolution)];
    throw new GatewayError('GW_SECRET_UNAVAILABLE', 'secret could not be decrypted');
  }
  const done = (forms: Reflection[]): void => {
    // knownForms too: what the value makes known besides itself (an OAuth2 client secret).
    flow.reflections.push({ real: plain, standIn: p.found.token }, ...forms, ...(p.scheme.knownForms?.(plain, p.found.token) ?? []));
    flow.exchange.credentialApplied({ secretId: secret.id, secretName: secret.name, version, placement: p.scheme.describe() });
  };
  // A scheme that refuses (a signature that does not verify, a failed token exchange) is named in the log.
  const refused = (e: unknown): never => {
    flow.exchange.secrets = [label(p.resolution)];
    throw e;
  };
  const ctx = { secretId: secret.id, environment: flow.sandbox.environment, version, accessTokens: flow.deps.accessTokens };
  let forms: Reflection[] | Promise<Reflection[]>;
  try {
    forms = p.scheme.apply(flow.request, p.found, plain, ctx);
  } catch (e) {
    return refused(e);
  }
  if (forms instanceof Promise) return forms.then(done, refused);
  done(forms);
  return undefined;
}

function locationKey(f: FoundToken): string {
  const l = f.location;
  switch (l.kind) {
    case 'query':
      return `q${l.paramIndex}`;
    case 'path':
      return `p${l.segment}`;
    case 'body':
      return `b${l.format ?? ''}\u0000${l.field ?? ''}`;
    default:
      return `${l.kind}${l.index}`;
  }
}
