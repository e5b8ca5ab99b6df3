import type { SecretValue } from '../secret-value.js';

/**
 * What the rest of standin asks of the store. The store is SQLite (better-sqlite3, WAL) under the
 * home directory; the CLI and a running `serve` open the same file, so a change made with the CLI
 * is seen by the gateway on its next request without a restart.
 *
 * Names (secrets, sandboxes) are case-insensitive: `OpenAI-Prod` and `openai-prod` are one name.
 * No method ever returns a secret's plaintext except `secretValue`, which only the proxy calls.
 */

/** How a credential is placed in a request. */
export type SchemeSpec =
  | { kind: 'bearer' }
  | { kind: 'basic' }
  | { kind: 'header'; header: string } // header name, lower-cased
  | { kind: 'query'; param: string };

export interface SecretInfo {
  id: string; // opaque stable id (random), also the AES-GCM associated data
  name: string;
  scheme: SchemeSpec;
  /** Host patterns as given: `api.openai.com`, `*.example.com`, `host:8443`. */
  hosts: string[];
  provider: string | null;
  currentVersion: number;
  versions: number[]; // kept versions, ascending
  createdAt: number; // epoch ms
  updatedAt: number;
}

export interface SandboxInfo {
  id: string;
  name: string;
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

/** Everything the proxy needs to decide about one stand-in token found in a request. */
export interface TokenResolution {
  token: string;
  sandboxId: string;
  env: string;
  secret: SecretInfo;
}

export interface AuditEvent {
  id: number;
  at: number;
  actor: string;
  action: string; // secret.create, secret.rotate, secret.rollback, secret.delete, sandbox.create, sandbox.bind, sandbox.unbind, sandbox.delete, ...
  target: string; // e.g. secret name or sandbox name
  detail: Record<string, unknown>;
}

export interface CreateSecretInput {
  name: string;
  scheme: SchemeSpec;
  hosts: string[];
  provider?: string | null;
  value: SecretValue;
  actor: string;
}

export interface CreateSandboxInput {
  name: string;
  allowHosts: string[];
  bindings: { env: string; secretName: string; tokenPrefix?: string }[];
  actor: string;
}

export interface Store {
  // secrets
  createSecret(input: CreateSecretInput): SecretInfo;
  listSecrets(): SecretInfo[];
  getSecret(name: string): SecretInfo | undefined;
  /** Adds a version and makes it current; returns the new version number. */
  rotateSecret(name: string, value: SecretValue, actor: string): number;
  /** Makes the previous kept version current again; returns the now-current version. */
  rollbackSecret(name: string, actor: string): number;
  /** Deletes the secret, its versions and every binding (tokens) that uses it. */
  deleteSecret(name: string, actor: string): void;
  /** Plaintext of one version. Only the proxy calls this, to apply a credential. */
  secretValue(secretId: string, version: number): SecretValue;

  // sandboxes, bindings, tokens
  createSandbox(input: CreateSandboxInput): { sandbox: SandboxInfo; proxyKey: string; bindings: BindingInfo[] };
  listSandboxes(): SandboxInfo[];
  getSandbox(name: string): SandboxInfo | undefined;
  getSandboxById(id: string): SandboxInfo | undefined;
  deleteSandbox(name: string, actor: string): void;
  bind(sandboxName: string, env: string, secretName: string, actor: string, tokenPrefix?: string): BindingInfo;
  unbind(sandboxName: string, env: string, actor: string): void;
  listBindings(sandboxName: string): BindingInfo[];
  /** The sandbox's proxy credential, for `sandbox env` / `run`. */
  proxyKey(sandboxName: string): string;
  /** Checks a proxy credential in constant time; undefined when the name or key is wrong. */
  authenticateSandbox(name: string, key: string): SandboxInfo | undefined;
  /** Looks a stand-in token up exactly; undefined if unknown or revoked. */
  resolveToken(token: string): TokenResolution | undefined;

  // audit
  audit(actor: string, action: string, target: string, detail?: Record<string, unknown>): void;
  listAudit(filter: { limit?: number; since?: number }): AuditEvent[];

  close(): void;
}
