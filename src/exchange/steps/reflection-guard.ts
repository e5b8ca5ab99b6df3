import { matchesAnyPattern } from '../../policy/host-pattern.js';
import { schemeFor } from '../../swap/scheme-spec.js';
import type { SecretInfo } from '../../model/secrets.js';
import type { Reflection } from '../../swap/schemes/scheme.js';
import type { Flow } from '../flow.js';
import type { Step } from '../pipeline.js';

/**
 * What the response must be scrubbed of: the values this request placed, and every value of the
 * sandbox's secrets scoped to this target that it could learn — every retained version (a previous
 * one, kept for rollback, is often still valid at the provider), of secrets bound now and of those
 * unbound or replaced within the configured window. A value swapped in earlier can come back later
 * without a token in the request (a session cookie set by a swapped login, an account page that
 * shows the key), and a response to a swapped request can carry another secret of the same host:
 * the sandbox must not read any of them, whichever request brings them back. Values the gateway
 * cannot decrypt are skipped: it cannot have sent them either. Expanded into their encodings once
 * (cached).
 */
export const reflectionGuard: Step = {
  name: 'reflection guard',
  run(flow) {
    const base = [...flow.reflections, ...otherValues(flow)];
    if (base.length === 0) return;
    const expanded = flow.deps.reflections.expand(base);
    flow.scrubbed = expanded;
    flow.scrubber = flow.deps.reflections.scrubber(expanded);
    flow.exchange.scrubbed = true;
  },
};

function otherValues(flow: Flow): Reflection[] {
  const { lookups } = flow.deps;
  const sandboxId = flow.sandbox.id;
  const placed = new Set(flow.exchange.applied.map((a) => `${a.secretId}@${a.version}`));
  const out: Reflection[] = [];
  for (const token of lookups.tokensOfSandbox(sandboxId)) {
    const r = lookups.resolveToken(token);
    if (r !== undefined && r.sandboxId === sandboxId) addSecret(flow, r.secret, token, placed, out);
  }
  const since = flow.request.now - flow.deps.unboundScrubMs;
  for (const u of lookups.unboundSecrets(sandboxId)) {
    if (u.unboundAt >= since) addSecret(flow, u.secret, u.token, placed, out);
  }
  return out;
}

function addSecret(flow: Flow, secret: SecretInfo, standIn: string, placed: ReadonlySet<string>, out: Reflection[]): void {
  if (!matchesAnyPattern(secret.hosts, flow.input.target)) return;
  const scheme = schemeFor(secret.scheme, flow.deps.schemes);
  // Newest first: the current value's forms lead the list.
  for (let i = secret.versions.length - 1; i >= 0; i--) {
    const version = secret.versions[i] as number;
    if (placed.has(`${secret.id}@${version}`)) continue;
    let value: string;
    try {
      value = flow.deps.secretValue(secret.id, version).expose();
    } catch {
      continue;
    }
    out.push({ real: value, standIn }, ...(scheme.knownForms?.(value, standIn) ?? []));
  }
}
