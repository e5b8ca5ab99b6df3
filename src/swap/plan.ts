import { GatewayError } from '../errors.js';
import type { SecretValue } from '../secret-value.js';
import type { TokenResolution, SecretInfo } from '../model/secrets.js';
import type { Target } from '../model/target.js';
import { findTokens, queryParams } from './find-tokens.js';
import { schemeFor, type MutableRequest, type Reflection } from './schemes/index.js';
import type { AppliedSwap, Exchange, FoundToken } from './types.js';
import type { HeaderList } from '../model/headers.js';

export interface SwapDeps {
  resolveToken(token: string): TokenResolution | undefined;
  secretValue(secretId: string, version: number): SecretValue;
  inScope(hosts: readonly string[], target: Target): boolean;
}

export interface SwapPlan {
  headers: HeaderList;
  path: string;
  swaps: AppliedSwap[];
  /**
   * The real values as placed and their stand-ins (empty when nothing was swapped); the caller
   * adds what else must be scrubbed and expands them into their encodings (reflections.ts) once.
   */
  reflections: Reflection[];
}

export type SwapOutcome = { ok: true; plan: SwapPlan } | { ok: false; error: GatewayError; secrets: string[] };

/**
 * Decides what one request may carry upstream. Every token found must belong to this sandbox,
 * be scoped to the CONNECT target and sit where its secret's scheme puts the credential;
 * otherwise the whole request is refused and nothing is forwarded.
 */
export function planSwaps(ex: Exchange, deps: SwapDeps): SwapOutcome {
  const found = findTokens(ex.headers, ex.path);
  if (found.length === 0) return { ok: true, plan: { headers: ex.headers, path: ex.path, swaps: [], reflections: [] } };

  const owned: { found: FoundToken; secret: SecretInfo; version: number | null }[] = [];
  for (const f of found) {
    const resolution = f.malformed ? undefined : deps.resolveToken(f.token);
    if (!resolution || resolution.sandboxId !== ex.sandbox.id) {
      return refuse('GW_TOKEN_UNKNOWN', f.malformed ? 'malformed token' : 'token unknown to this sandbox', []);
    }
    owned.push({ found: f, secret: resolution.secret, version: resolution.version });
  }

  const outOfScope = owned.filter((o) => !deps.inScope(o.secret.hosts, ex.target));
  if (outOfScope.length > 0) {
    return refuse('GW_TOKEN_SCOPE', 'token used outside its secret\'s hosts', outOfScope.map(label));
  }

  const req: MutableRequest = { headers: ex.headers.map(([n, v]) => [n, v]), query: queryParams(ex.path) };
  const misplaced = owned.filter((o) => !schemeFor(o.secret.scheme).accepts(req, o.found.location, o.found.token));
  if (misplaced.length > 0) {
    return refuse('GW_TOKEN_PLACEMENT', 'token outside its scheme\'s place', misplaced.map(label));
  }

  const swaps = new Map<string, AppliedSwap>();
  const reflections: Reflection[] = [];
  const applied = new Set<string>();
  for (const o of owned) {
    const { found: f, secret, version } = o;
    const key = `${locationKey(f)}\u0000${f.token}`;
    if (applied.has(key)) continue; // the same token twice in one place is replaced in one go
    applied.add(key);
    // No version: the secret has no value in the sandbox's environment (binding checks this;
    // only a database changed by hand gets here).
    if (version === null) return refuse('GW_SECRET_UNAVAILABLE', 'secret has no value in this environment', [label(o)]);
    let value: SecretValue;
    try {
      value = deps.secretValue(secret.id, version);
    } catch {
      return refuse('GW_SECRET_UNAVAILABLE', 'secret could not be decrypted', [label(o)]);
    }
    const plain = value.expose();
    reflections.push({ real: plain, standIn: f.token }, ...schemeFor(secret.scheme).apply(req, f.location, f.token, plain));
    swaps.set(secret.id, { secretId: secret.id, secretName: secret.name, version, token: f.token });
  }
  return { ok: true, plan: { headers: req.headers, path: rebuildPath(ex.path, req), swaps: [...swaps.values()], reflections } };
}

function refuse(code: 'GW_TOKEN_UNKNOWN' | 'GW_TOKEN_SCOPE' | 'GW_TOKEN_PLACEMENT' | 'GW_SECRET_UNAVAILABLE', detail: string, secrets: string[]): SwapOutcome {
  return { ok: false, error: new GatewayError(code, detail), secrets };
}

/** `name@version` as the network log records it; the version is the sandbox environment's. */
function label(o: { secret: SecretInfo; version: number | null }): string {
  return `${o.secret.name}@${o.version ?? '-'}`;
}

function locationKey(f: FoundToken): string {
  const l = f.location;
  return l.kind === 'query' ? `q${l.paramIndex}` : `${l.kind}${l.index}`;
}

function rebuildPath(original: string, req: MutableRequest): string {
  const q = original.indexOf('?');
  if (q < 0 || req.query.length === 0) return original;
  return `${original.slice(0, q)}?${req.query.map((p) => p.raw).join('&')}`;
}
