import type { BindingInfo, SandboxInfo, SchemeSpec, SecretInfo, TokenResolution, UnboundSecret } from '../model/secrets.js';
import type { SecretValue } from '../secret-value.js';

/**
 * What the rest of standin asks of the store. The store is SQLite (better-sqlite3, WAL) under the
 * home directory; the CLI and a running `serve` open the same file, so a change made with the CLI
 * is seen by the gateway on its next request without a restart.
 *
 * Names (secrets, sandboxes) are case-insensitive: `OpenAI-Prod` and `openai-prod` are one name.
 * No method ever returns a secret's plaintext except `secretValue`, which only the proxy calls.
 */

export interface AuditEvent {
  id: number;
  at: number;
  tenant: string;
  actor: string;
  action: string; // secret.create, secret.rotate, secret.rollback, secret.delete, sandbox.create, sandbox.bind, sandbox.unbind, sandbox.delete, ...
  target: string; // e.g. secret name or sandbox name
  detail: Record<string, unknown>;
}

/** Versions kept by rotation unless a secret says otherwise: the current one and four to roll back to. */
export const DEFAULT_KEEP_VERSIONS = 5;
export const MIN_KEEP_VERSIONS = 2;
export const MAX_KEEP_VERSIONS = 1000;

/** Which audit events to list; every field narrows the result. */
export interface AuditFilter {
  /** The newest `limit` matching events (still returned oldest first). */
  limit?: number;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Exact action (`secret.rotate`), or a prefix ending in `*` (`secret.*`). */
  action?: string;
  /** Exact target name, case-insensitive like the names themselves. */
  target?: string;
  /** Exact actor (`cli:alice`). */
  actor?: string;
  /** Every tenant's events, not only the store's tenant's (the local CLI's `--all-tenants`). */
  allTenants?: boolean;
}

export interface CreateSecretInput {
  name: string;
  scheme: SchemeSpec;
  hosts: string[];
  provider?: string | null;
  value: SecretValue;
  actor: string;
  /** Versions to keep on rotation (2-1000); default DEFAULT_KEEP_VERSIONS. */
  keepVersions?: number;
  /** The environment the first value is for; default DEFAULT_ENVIRONMENT. */
  environment?: string;
}

export interface RotateOptions {
  /** Changes the secret's retention (2-1000, per environment) before pruning. */
  keepVersions?: number;
  /** The environment the new value is for (its first value there, or a new version); default `default`. */
  environment?: string;
}


export interface TenantInfo {
  name: string;
  createdAt: number;
}

export interface CreateSandboxInput {
  name: string;
  allowHosts: string[];
  bindings: { env: string; secretName: string; tokenPrefix?: string }[];
  actor: string;
  /** Default DEFAULT_ENVIRONMENT; fixed for the sandbox's life. */
  environment?: string;
}

/**
 * A store is a view of one tenant: every name-based call finds, lists and creates only that
 * tenant's secrets and sandboxes, and its audit rows carry the tenant. The calls the proxy makes
 * with ids and keys (authenticateSandbox, resolveToken, secretValue, getSandboxById) are not
 * scoped: a sandbox and its tokens identify their tenant themselves.
 */
export interface Store {
  readonly tenant: string;
  /** The same database seen as another tenant; a UsageError if that tenant does not exist. */
  forTenant(tenant: string): Store;
  createTenant(name: string, actor: string): TenantInfo;
  listTenants(): TenantInfo[];

  // secrets
  createSecret(input: CreateSecretInput): SecretInfo;
  listSecrets(): SecretInfo[];
  getSecret(name: string): SecretInfo | undefined;
  /**
   * Adds a version and makes it current; returns the new version number. Versions beyond the
   * secret's retention (the newest `keepVersions`) are deleted in the same transaction.
   */
  rotateSecret(name: string, value: SecretValue, actor: string, options?: RotateOptions): number;
  /**
   * Adds a version by secret id only while the environment's current version is still
   * `fromVersion` (compare and set, one transaction, audited as `secret.rotate` with `reason`);
   * undefined when it has moved on and nothing was written. The gateway calls it to persist a
   * value the provider replaced (an OAuth2 refresh token rotated on use) before using what came
   * with it, so a crash never loses the only valid copy.
   */
  rotateSecretIfCurrent(secretId: string, environment: string, fromVersion: number, value: SecretValue, actor: string, reason: string): number | undefined;
  /** Makes the environment's previous kept version current again; returns the now-current version. */
  rollbackSecret(name: string, actor: string, environment?: string): number;
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
  /**
   * Finds the sandbox whose proxy key this is (any tenant) and checks that `name` is its name;
   * undefined when the key or the name is wrong.
   */
  authenticateSandbox(name: string, key: string): SandboxInfo | undefined;
  /** Looks a stand-in token up exactly; undefined if unknown or revoked. */
  resolveToken(token: string): TokenResolution | undefined;
  /** The stand-in tokens of a sandbox's bindings (any tenant: the id says which sandbox). */
  tokensOfSandbox(sandboxId: string): readonly string[];
  /** Secrets the sandbox was bound to and no longer is (unbound or replaced), with when. */
  unboundSecrets(sandboxId: string): readonly UnboundSecret[];

  // audit
  audit(actor: string, action: string, target: string, detail?: Record<string, unknown>): void;
  listAudit(filter: AuditFilter): AuditEvent[];

  close(): void;
}
