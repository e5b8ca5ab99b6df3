import type { SchemeSpec } from '../model/secrets.js';
import type { AsyncStore } from './store-api.js';

/**
 * Secret definitions and sandbox bindings as a portable JSON document: references, never values.
 * Secret values, stand-in tokens and proxy keys are not in it (a token or key is per sandbox and
 * is issued anew on import; a value must be given by its owner with `secret create`).
 */
export interface SecretDefinition {
  name: string;
  scheme: string; // text form, as `--scheme` takes it
  hosts: string[];
  provider: string | null;
  keepVersions?: number;
  /** Environments the secret has a value in (names only; values are never exported). */
  environments?: string[];
}

export interface SandboxDefinition {
  name: string;
  /** Default `default`. */
  environment?: string;
  allowHosts: string[];
  bindings: Record<string, string>; // ENV -> secret name
}

export interface Definitions {
  version: 1;
  secrets: SecretDefinition[];
  sandboxes: SandboxDefinition[];
}

export async function exportDefinitions(store: AsyncStore, formatScheme: (s: SchemeSpec) => string): Promise<Definitions> {
  return {
    version: 1,
    secrets: (await store.listSecrets()).map((s) => ({
      name: s.name,
      scheme: formatScheme(s.scheme),
      hosts: s.hosts,
      provider: s.provider,
      ...(s.keepVersions !== undefined ? { keepVersions: s.keepVersions } : {}),
      environments: s.environments.map((e) => e.name),
    })),
    sandboxes: await Promise.all(
      (await store.listSandboxes()).map(async (x) => ({
        name: x.name,
        environment: x.environment,
        allowHosts: x.allowHosts,
        bindings: Object.fromEntries((await store.listBindings(x.name)).map((b) => [b.env, b.secretName])),
      })),
    ),
  };
}

/**
 * Checks the shape of a document to import; returns every problem at once (empty when fine).
 * Field contents (names, host patterns, schemes) are checked again by the store and the parsers.
 */
export function definitionProblems(doc: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(doc)) return ['the file must hold a JSON object with "secrets" and "sandboxes"'];
  if (doc.version !== undefined && doc.version !== 1) problems.push(`unsupported version ${JSON.stringify(doc.version)}: this standin reads version 1`);
  for (const key of Object.keys(doc)) {
    if (!['version', 'secrets', 'sandboxes'].includes(key)) problems.push(`unknown field "${key.slice(0, 40)}"`);
  }
  list(doc.secrets, 'secrets', problems).forEach((s, i) => {
    const at = `secrets[${i}]`;
    if (!isObject(s)) return void problems.push(`${at} must be an object`);
    if (typeof s.name !== 'string') problems.push(`${at}.name must be a string`);
    if (typeof s.scheme !== 'string') problems.push(`${at}.scheme must be a string`);
    if (!isStringArray(s.hosts)) problems.push(`${at}.hosts must be a list of strings`);
    if (s.provider !== undefined && s.provider !== null && typeof s.provider !== 'string') problems.push(`${at}.provider must be a string or null`);
    if (s.keepVersions !== undefined && !Number.isInteger(s.keepVersions)) problems.push(`${at}.keepVersions must be an integer`);
    if (s.environments !== undefined && !isStringArray(s.environments)) problems.push(`${at}.environments must be a list of strings`);
    if ('value' in s) problems.push(`${at} has a "value": values are never imported, create the secret with \`standin secret create\``);
  });
  list(doc.sandboxes, 'sandboxes', problems).forEach((x, i) => {
    const at = `sandboxes[${i}]`;
    if (!isObject(x)) return void problems.push(`${at} must be an object`);
    if (typeof x.name !== 'string') problems.push(`${at}.name must be a string`);
    if (x.environment !== undefined && typeof x.environment !== 'string') problems.push(`${at}.environment must be a string`);
    if (x.allowHosts !== undefined && !isStringArray(x.allowHosts)) problems.push(`${at}.allowHosts must be a list of strings`);
    if (x.bindings !== undefined && !(isObject(x.bindings) && Object.values(x.bindings).every((v) => typeof v === 'string'))) {
      problems.push(`${at}.bindings must map env var names to secret names`);
    }
  });
  return problems;
}

function list(v: unknown, what: string, problems: string[]): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    problems.push(`"${what}" must be a list`);
    return [];
  }
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
