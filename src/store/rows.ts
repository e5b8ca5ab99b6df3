import { RuntimeError } from '../errors.js';
import { DEFAULT_ENVIRONMENT } from '../model/secrets.js';
import { DEFAULT_KEEP_VERSIONS } from './types.js';
import { toSchemeSpec, type BindingInfo, type SandboxInfo, type SchemeSpec, type SecretEnvironment, type SecretInfo } from '../model/secrets.js';

/**
 * Row shapes as SQLite returns them and their mapping to the public types. JSON columns are
 * parsed defensively: a damaged row is reported as such, not passed on half-typed.
 */
export interface SecretRow {
  id: string;
  tenant: string;
  name: string;
  scheme: string;
  hosts: string;
  provider: string | null;
  created_at: number;
  updated_at: number;
  keep_versions: number | null;
  versions: string; // JSON array of [version, environment]
  currents: string; // JSON array of [environment, current version]
}

export interface SandboxRow {
  id: string;
  tenant: string;
  name: string;
  environment: string;
  allow_hosts: string;
  created_at: number;
}

export interface SandboxAuthRow extends SandboxRow {
  proxy_key_hash: Buffer;
}

export interface BindingRow {
  sandbox_id: string;
  env: string;
  secret_id: string;
  secret_name: string;
  token: string;
  created_at: number;
}

/** Columns of a secret plus its kept versions, for `SELECT ${SECRET_COLUMNS} FROM secrets s`. */
export const SECRET_COLUMNS = `s.id, s.tenant, s.name, s.scheme, s.hosts, s.provider, s.created_at, s.updated_at, s.keep_versions,
  (SELECT json_group_array(json_array(v.version, v.environment)) FROM secret_versions v WHERE v.secret_id = s.id) AS versions,
  (SELECT json_group_array(json_array(c.environment, c.version)) FROM secret_current c WHERE c.secret_id = s.id) AS currents`;

export const SANDBOX_COLUMNS = 'x.id, x.tenant, x.name, x.environment, x.allow_hosts, x.created_at';

export const BINDING_COLUMNS = `b.sandbox_id, b.env, b.secret_id, s.name AS secret_name, b.token, b.created_at`;

export function toSecret(row: SecretRow): SecretInfo {
  const versions = parseJson(row.versions, 'secret versions');
  const currents = parseJson(row.currents, 'secret current versions');
  const hosts = parseJson(row.hosts, 'secret hosts');
  if (!isPairArray(versions, 'number', 'string') || !isPairArray(currents, 'string', 'number') || !isStringArray(hosts)) {
    throw damaged('secret', row.id);
  }
  const environments: SecretEnvironment[] = currents
    .map(([name, currentVersion]) => ({
      name,
      currentVersion,
      versions: versions.filter(([, env]) => env === name).map(([v]) => v).sort((a, b) => a - b),
    }))
    .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  return {
    id: row.id,
    tenant: row.tenant,
    name: row.name,
    scheme: toScheme(parseJson(row.scheme, 'secret scheme'), row.id),
    hosts,
    provider: row.provider,
    currentVersion: environments.find((e) => e.name === DEFAULT_ENVIRONMENT)?.currentVersion ?? null,
    versions: versions.map(([v]) => v).sort((a, b) => a - b),
    environments,
    keepVersions: row.keep_versions ?? DEFAULT_KEEP_VERSIONS,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toSandbox(row: SandboxRow): SandboxInfo {
  const allowHosts = parseJson(row.allow_hosts, 'sandbox hosts');
  if (!isStringArray(allowHosts)) throw damaged('sandbox', row.id);
  return { id: row.id, tenant: row.tenant, name: row.name, environment: row.environment, allowHosts, createdAt: row.created_at };
}

export function toBinding(row: BindingRow): BindingInfo {
  return {
    sandboxId: row.sandbox_id,
    env: row.env,
    secretName: row.secret_name,
    secretId: row.secret_id,
    token: row.token,
    createdAt: row.created_at,
  };
}

// Tolerant of every shape ever stored: bare placements (before lists existed) and `multi` lists.
function toScheme(v: unknown, id: string): SchemeSpec {
  const spec = toSchemeSpec(v);
  if (spec === undefined) throw damaged('secret', id);
  return spec;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RuntimeError(`database holds an unreadable ${what} value`);
  }
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function isPairArray<A extends 'number' | 'string', B extends 'number' | 'string'>(
  v: unknown,
  a: A,
  b: B,
): v is [A extends 'number' ? number : string, B extends 'number' ? number : string][] {
  return Array.isArray(v) && v.every((x) => Array.isArray(x) && x.length === 2 && typeof x[0] === a && typeof x[1] === b);
}

function rank(environment: string): number {
  return environment === DEFAULT_ENVIRONMENT ? 0 : 1;
}

function damaged(kind: string, id: string): RuntimeError {
  return new RuntimeError(`database row for ${kind} ${id} is damaged`);
}
