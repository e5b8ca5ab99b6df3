/**
 * What a secret, a sandbox and a binding are, as every part of standin sees them: the store keeps
 * them, the exchange pipeline reads them, the control API and CLI show them. No I/O here.
 *
 * Names (secrets, sandboxes) are case-insensitive: `OpenAI-Prod` and `openai-prod` are one name.
 */

export const DEFAULT_ENVIRONMENT = 'default';
export const DEFAULT_TENANT = 'default';

/**
 * One place a credential goes in a request, as stored and shown: `kind` names a scheme of the
 * registry (swap/schemes), the other fields are that scheme's own (a header name, a template, a
 * query parameter). `{ kind: 'multi', placements: [...] }` lists several: a token is accepted where
 * any of them accepts it and applied by the first that does. Only the registry reads the fields,
 * so a new scheme adds no type here.
 */
export interface PlacementData {
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** How a secret is applied: one placement, or a `multi` list of them. */
export type SchemeSpec = PlacementData;

/** The values of a secret in one environment: its own current version and kept versions. */
export interface SecretEnvironment {
  name: string;
  currentVersion: number;
  versions: number[]; // ascending
}

export interface SecretInfo {
  id: string; // opaque stable id (random), also the AES-GCM associated data
  tenant: string;
  name: string;
  scheme: SchemeSpec;
  /** Host patterns as given: `api.openai.com`, `*.example.com`, `host:8443`. */
  hosts: string[];
  provider: string | null;
  /** Current version in the environment `default`; null when the secret has no value there. */
  currentVersion: number | null;
  versions: number[]; // kept versions of every environment, ascending (one sequence per secret)
  /** Environments with a value, `default` first, then by name. */
  environments: SecretEnvironment[];
  /** How many versions rotation keeps (older ones are deleted); always set by the store. */
  keepVersions?: number;
  createdAt: number; // epoch ms
  updatedAt: number;
}

export interface SandboxInfo {
  id: string;
  tenant: string;
  name: string;
  /** The environment whose values of its secrets the sandbox gets. */
  environment: string;
  /** Egress policy: host patterns the sandbox may CONNECT to. Empty means any public host. */
  allowHosts: string[];
  createdAt: number;
}

export interface BindingInfo {
  sandboxId: string;
  env: string; // env var name, e.g. OPENAI_API_KEY
  secretName: string;
  secretId: string;
  token: string; // the stand-in token handed to the sandbox (not a secret: useless without the sandbox's proxy key)
  createdAt: number;
}

/** A secret a sandbox was bound to until `unboundAt`: its values are still scrubbed for a while. */
export interface UnboundSecret {
  secret: SecretInfo;
  /** The stand-in the sandbox held for it (what a reflected value is replaced with). */
  token: string;
  unboundAt: number;
}

/** Everything the proxy needs to decide about one stand-in token found in a request. */
export interface TokenResolution {
  token: string;
  sandboxId: string;
  env: string;
  secret: SecretInfo;
  /** The version to apply: the current one in the sandbox's environment; null if it has none. */
  version: number | null;
}

/**
 * The shape every stored scheme has, whatever its kinds: an object with a `kind`, and fields that
 * are strings (null fields dropped), or a non-empty `multi` list of such objects (a list of one is
 * that placement). Undefined for anything else. The rules of each kind are the registry's.
 */
export function toSchemeSpec(v: unknown): SchemeSpec | undefined {
  if (!isObject(v)) return undefined;
  if (v['kind'] !== 'multi') return toPlacementData(v);
  const list = Array.isArray(v['placements']) ? v['placements'].map(toPlacementData) : [];
  if (list.length === 0 || list.some((p) => p === undefined)) return undefined;
  return list.length === 1 ? list[0] : { kind: 'multi', placements: list };
}

function toPlacementData(v: unknown): PlacementData | undefined {
  if (!isObject(v) || typeof v['kind'] !== 'string' || v['kind'] === '' || v['kind'] === 'multi') return undefined;
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string') return undefined;
    out[k] = value;
  }
  return out as PlacementData;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
