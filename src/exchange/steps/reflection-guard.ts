import { matchesAnyPattern } from '../../policy/host-pattern.js';
import { schemeFor } from '../../swap/scheme-spec.js';
import type { Reflection } from '../../swap/schemes/scheme.js';
import type { Flow } from '../flow.js';
import type { Step } from '../pipeline.js';

/**
 * What the response must be scrubbed of: the values this request placed, and every other secret of
 * the sandbox scoped to this target. A value swapped in earlier can come back later without a token
 * in the request (a session cookie set by a swapped login, an account page that shows the key), and
 * a response to a swapped request can carry another secret of the same host: the sandbox must not
 * read any of them, whichever request brings them back. Values the gateway cannot decrypt are
 * skipped: it cannot have sent them either. Expanded into their encodings once (cached).
 */
export const reflectionGuard: Step = {
  name: 'reflection guard',
  run(flow) {
    const base = [...flow.reflections, ...otherSecrets(flow)];
    if (base.length === 0) return;
    const expanded = flow.deps.reflections.expand(base);
    flow.scrubbed = expanded;
    flow.scrubber = flow.deps.reflections.scrubber(expanded);
    flow.exchange.scrubbed = true;
  },
};

function otherSecrets(flow: Flow): Reflection[] {
  const { lookups, schemes } = flow.deps;
  const swapped = new Set(flow.exchange.applied.map((a) => a.secretId));
  const out: Reflection[] = [];
  for (const token of lookups.tokensOfSandbox(flow.sandbox.id)) {
    const r = lookups.resolveToken(token);
    if (r === undefined || r.version === null || r.sandboxId !== flow.sandbox.id) continue;
    if (swapped.has(r.secret.id) || !matchesAnyPattern(r.secret.hosts, flow.input.target)) continue;
    let value: string;
    try {
      value = flow.deps.secretValue(r.secret.id, r.version).expose();
    } catch {
      continue;
    }
    out.push({ real: value, standIn: token }, ...(schemeFor(r.secret.scheme, schemes).knownForms?.(value, token) ?? []));
  }
  return out;
}
