import { placementsOf } from '../swap/scheme-spec.js';
import { PRESETS, type Provider } from './presets.js';

export type { Provider } from './presets.js';

/**
 * Presets for well-known APIs (presets.ts): how the credential is sent, where it may go, the env
 * var client libraries read it from, and the prefix their format checks expect. `secret create
 * --provider` takes the scheme and hosts from here; binding such a secret gives its token the prefix.
 * The CLI (`standin providers`) and the control API / SDK (`listProviders`) show this same list.
 */

/** Case-insensitive lookup by id; undefined for an unknown provider. */
export function findProvider(id: string): Provider | undefined {
  const wanted = String(id).trim().toLowerCase();
  const found = PRESETS.find((p) => p.id === wanted);
  return found === undefined ? undefined : copy(found);
}

/** Every provider, ordered by id. */
export function listProviders(): Provider[] {
  return PRESETS.map(copy).sort((a, b) => a.id.localeCompare(b.id));
}

/** The stand-in token prefix for a secret made from this provider ('' for none or unknown). */
export function tokenPrefixFor(providerId: string | null | undefined): string {
  if (providerId === null || providerId === undefined) return '';
  return findProvider(providerId)?.tokenPrefix ?? '';
}

// Callers get their own copies: the catalogue is shared data and must not be edited through them.
function copy(p: Provider): Provider {
  const placements = placementsOf(p.scheme).map((x) => ({ ...x }));
  const scheme = p.scheme.kind === 'multi' ? { kind: 'multi' as const, placements } : placements[0] ?? { kind: 'bearer' as const };
  return { ...p, scheme, hosts: [...p.hosts] };
}
