import { GatewayError, type GatewayErrorCode } from '../../errors.js';
import type { TokenResolution } from '../../model/secrets.js';
import { matchesAnyPattern } from '../../policy/host-pattern.js';
import { schemeFor } from '../../swap/scheme-spec.js';
import { MAX_TOKEN_PREFIX, TOKEN_CORE_LENGTH } from '../../model/token-format.js';
import type { FoundToken } from '../../swap/types.js';
import type { Flow, PlannedToken } from '../flow.js';
import type { Step } from '../pipeline.js';

/**
 * What each stand-in found means. Every one must belong to this sandbox, be scoped to the CONNECT
 * target and sit where its secret's scheme puts the credential, and the exchange must be on TLS;
 * otherwise the whole request is refused and nothing is forwarded. The log names the secrets.
 */
export const plan: Step = {
  name: 'plan',
  run(flow) {
    flow.found = flow.found.flatMap((f) => (f.optIn !== true ? [f] : (optInToken(flow, f) ?? [])));
    if (flow.found.length === 0) return;
    flow.exchange.found = [...new Set(flow.found.map((f) => whereFound(f.location)))];
    const { lookups, schemes } = flow.deps;
    const sandboxId = flow.sandbox.id;
    const planned: PlannedToken[] = [];
    const unknown = flow.found.find((f) => {
      const resolution = f.malformed ? undefined : lookups.resolveToken(f.token);
      if (resolution === undefined || resolution.sandboxId !== sandboxId) return true;
      planned.push({ found: f, resolution, scheme: schemeFor(resolution.secret.scheme, schemes) });
      return false;
    });
    if (flow.exchange.protocol === 'http') {
      refuse(flow, 'GW_TOKEN_CLEARTEXT', 'stand-in in a cleartext request', planned);
    }
    if (unknown !== undefined) {
      refuse(flow, 'GW_TOKEN_UNKNOWN', unknown.malformed ? 'malformed token' : 'token unknown to this sandbox', []);
    }
    const outOfScope = planned.filter((p) => !matchesAnyPattern(p.resolution.secret.hosts, flow.input.target));
    if (outOfScope.length > 0) refuse(flow, 'GW_TOKEN_SCOPE', "token used outside its secret's hosts", outOfScope);
    const misplaced = planned.filter((p) => !p.scheme.accepts(flow.request, p.found));
    if (misplaced.length > 0) refuse(flow, 'GW_TOKEN_PLACEMENT', "token outside its scheme's place", misplaced);
    // No version: the secret has no value in the sandbox's environment (binding checks this; only
    // a database changed by hand gets here).
    const noValue = planned.filter((p) => p.resolution.version === null);
    if (noValue.length > 0) refuse(flow, 'GW_SECRET_UNAVAILABLE', 'secret has no value in this environment', noValue);
    flow.planned = planned;
  },
};

/**
 * A token in an opt-in place (path, body) counts only when it is this sandbox's and its secret's
 * scheme searches that place. Then, out of scope it is misuse like any token; in scope but away
 * from the scheme's own spot (another body field) it is left alone: conversation histories quote
 * stand-ins, and the upstream gets the stand-in, which is worthless off this sandbox's connection.
 * Text can run into the token there (Telegram's `/bot<token>/`): the finder widened it over every
 * token character, so the shorter forms are tried too, down to the bare core.
 */
function optInToken(flow: Flow, f: FoundToken): FoundToken | undefined {
  if (f.malformed) return undefined;
  const core = f.token.length - TOKEN_CORE_LENGTH;
  for (let from = 0; from <= core; from++) {
    if (core - from > MAX_TOKEN_PREFIX) continue;
    const token = f.token.slice(from);
    const r = flow.deps.lookups.resolveToken(token);
    if (r === undefined || r.sandboxId !== flow.sandbox.id) continue;
    const found = token === f.token ? f : { ...f, token };
    const scheme = schemeFor(r.secret.scheme, flow.deps.schemes);
    if (!(scheme.searches ?? []).includes(f.location.kind)) return undefined;
    const counts = !matchesAnyPattern(r.secret.hosts, flow.input.target) || scheme.accepts(flow.request, found);
    return counts ? found : undefined;
  }
  return undefined;
}

function refuse(flow: Flow, code: GatewayErrorCode, detail: string, culprits: readonly PlannedToken[]): never {
  flow.exchange.secrets = [...new Set(culprits.map((p) => label(p.resolution)))];
  throw new GatewayError(code, detail);
}

/** A location as people read it in `log explain`: the kind of place and its name. */
function whereFound(l: FoundToken['location']): string {
  if (l.kind === 'header') return `header ${l.name}`;
  if (l.kind === 'query') return `query parameter ${l.param}`;
  if (l.kind === 'basic') return 'Basic credentials';
  if (l.kind === 'path') return `path segment ${l.segment}`;
  return l.field === null ? 'body' : `body ${l.format ?? ''} field ${l.field}`;
}

/** `name@version` as the network log records it; the version is the sandbox environment's. */
export function label(r: Pick<TokenResolution, 'secret' | 'version'>): string {
  return `${r.secret.name}@${r.version ?? '-'}`;
}
