import { matchesAnyPattern } from '../policy/host-pattern.js';
import type { Target } from '../model/target.js';
import type { SandboxInfo } from '../model/secrets.js';
import { placementsOf } from '../swap/scheme-spec.js';
import type { Reflection } from '../swap/schemes/index.js';
import type { ProxyDeps } from './deps.js';

/**
 * The reflections to scrub from a response besides those of the values this request swapped:
 * every other secret of the sandbox that is scoped to this target. A value swapped in earlier can
 * come back later without a token in the request (a session cookie set by a swapped login, an
 * account page that shows the key); and a response to a swapped request can carry another secret
 * of the same host. The sandbox must not read any of them, whichever request brings them back.
 * Values the gateway cannot decrypt are skipped: it cannot have sent them either.
 */
export function guardReflections(deps: ProxyDeps, sandbox: SandboxInfo, target: Target, swappedSecretIds: ReadonlySet<string>): Reflection[] {
  const out: Reflection[] = [];
  for (const token of deps.store.tokensOfSandbox(sandbox.id)) {
    const r = deps.store.resolveToken(token);
    if (r === undefined || r.version === null || r.sandboxId !== sandbox.id) continue;
    if (swappedSecretIds.has(r.secret.id) || !matchesAnyPattern(r.secret.hosts, target)) continue;
    let value: string;
    try {
      value = deps.secretValues.get(r.secret.id, r.version).expose();
    } catch {
      continue;
    }
    out.push({ real: value, standIn: token });
    // A fixed Basic user makes the whole pair known, so its Base64 form can be matched too.
    for (const p of placementsOf(r.secret.scheme)) {
      if (p.kind === 'basic' && p.user !== undefined) out.push({ real: `${p.user}:${value}`, standIn: `${p.user}:${token}` });
    }
  }
  return out;
}
