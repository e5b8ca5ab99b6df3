import { RuntimeError } from '../errors.js';
import type { BindingInfo, SandboxInfo, SchemeSpec, SecretInfo } from './types.js';

/**
 * Row shapes as SQLite returns them and their mapping to the public types. JSON columns are
 * parsed defensively: a damaged row is reported as such, not passed on half-typed.
 */
export interface SecretRow {
  id: string;
  name: string;
  scheme: string;
  hosts: string;
  provider: string | null;
  current_version: number;
  created_at: number;
  updated_at: number;
  versions: string; // JSON array from json_group_array
}

export interface SandboxRow {
  id: string;
  name: string;
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
export const SECRET_COLUMNS = `s.id, s.name, s.scheme, s.hosts, s.provider, s.current_version, s.created_at,
  s.updated_at, (SELECT json_group_array(v.version) FROM secret_versions v WHERE v.secret_id = s.id) AS versions`;

export const SANDBOX_COLUMNS = 'x.id, x.name, x.allow_hosts, x.created_at';

export const BINDING_COLUMNS = `b.sandbox_id, b.env, b.secret_id, s.name AS secret_name, b.token, b.created_at`;

export function toSecret(row: SecretRow): SecretInfo {
  const versions = parseJson(row.versions, 'secret versions');
  const hosts = parseJson(row.hosts, 'secret hosts');
  if (!isNumberArray(versions) || !isStringArray(hosts)) throw damaged('secret', row.id);
  return {
    id: row.id,
    name: row.name,
    scheme: toScheme(parseJson(row.scheme, 'secret scheme'), row.id),
    hosts,
    provider: row.provider,
    currentVersion: row.current_version,
    versions: [...versions].sort((a, b) => a - b),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toSandbox(row: SandboxRow): SandboxInfo {
  const allowHosts = parseJson(row.allow_hosts, 'sandbox hosts');
  if (!isStringArray(allowHosts)) throw damaged('sandbox', row.id);
  return { id: row.id, name: row.name, allowHosts, createdAt: row.created_at };
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

function toScheme(v: unknown, id: string): SchemeSpec {
  if (typeof v === 'object' && v !== null && 'kind' in v) {
    if (v.kind === 'bearer' || v.kind === 'basic') return { kind: v.kind };
    if (v.kind === 'header' && 'header' in v && typeof v.header === 'string') return { kind: 'header', header: v.header };
    if (v.kind === 'query' && 'param' in v && typeof v.param === 'string') return { kind: 'query', param: v.param };
  }
  throw damaged('secret', id);
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

function isNumberArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number');
}

function damaged(kind: string, id: string): RuntimeError {
  return new RuntimeError(`database row for ${kind} ${id} is damaged`);
}
