import type { BindingInfo, SandboxInfo, SecretInfo, TokenResolution, UnboundSecret } from '../model/secrets.js';
import type { SecretValue } from '../secret-value.js';
import type { ApiKeyInfo, ApiKeyRole } from './apikeys-repo.js';
import type { AuditEvent, AuditFilter, CreateSandboxInput, CreateSecretInput, RotateOptions, TenantInfo } from './types.js';

/**
 * The two faces of storage. Everything that administers (the CLI, the control API, import and
 * export) goes through `AsyncStore`, which SQLite (one machine) and PostgreSQL (a fleet) both
 * implement with the same behaviour: names case-insensitive, changes audited in their own
 * transaction, values encrypted (AES-256-GCM under the master key, bound to id+version).
 *
 * The request path never waits on a database: it reads `RequestStore`, synchronous, served from
 * memory (SQLite: a memo invalidated by data_version; PostgreSQL: a snapshot kept fresh by
 * LISTEN/NOTIFY and a catch-up poll).
 */
export interface RequestStore {
  /** The sandbox whose proxy key this is, if `name` is its name; undefined otherwise. */
  authenticateSandbox(name: string, key: string): SandboxInfo | undefined;
  getSandboxById(id: string): SandboxInfo | undefined;
  /** Exact lookup of a stand-in; undefined if unknown or revoked. */
  resolveToken(token: string): TokenResolution | undefined;
  tokensOfSandbox(sandboxId: string): readonly string[];
  unboundSecrets(sandboxId: string): readonly UnboundSecret[];
  /** Plaintext of one version (GatewayError GW_SECRET_UNAVAILABLE when it cannot be had). */
  secretValue(secretId: string, version: number): SecretValue;
}

export type Backend = 'sqlite' | 'postgres';

/** API keys of the control API (only a sha256 of each key is stored). */
export interface ApiKeyStore {
  create(name: string, role: ApiKeyRole, options?: { tenant?: string; canReveal?: boolean }): Promise<{ info: ApiKeyInfo; key: string }>;
  list(): Promise<ApiKeyInfo[]>;
  revoke(name: string): Promise<ApiKeyInfo>;
  verify(presented: string): Promise<ApiKeyInfo | undefined>;
}

export interface RekeyResult {
  secretVersions: number;
  sandboxes: number;
  /** Whether the CA key (PostgreSQL keeps the CA in the database) was re-encrypted too. */
  ca?: boolean;
}

/** A view of one tenant, like `Store`; every call may go to the database. */
export interface AsyncStore {
  readonly tenant: string;
  readonly backend: Backend;
  /** The same database seen as another tenant; a UsageError if that tenant does not exist. */
  forTenant(tenant: string): Promise<AsyncStore>;
  createTenant(name: string, actor: string): Promise<TenantInfo>;
  listTenants(): Promise<TenantInfo[]>;

  createSecret(input: CreateSecretInput): Promise<SecretInfo>;
  listSecrets(): Promise<SecretInfo[]>;
  getSecret(name: string): Promise<SecretInfo | undefined>;
  rotateSecret(name: string, value: SecretValue, actor: string, options?: RotateOptions): Promise<number>;
  /** Compare and set by id (see Store.rotateSecretIfCurrent); undefined when it moved on. */
  rotateSecretIfCurrent(secretId: string, environment: string, fromVersion: number, value: SecretValue, actor: string, reason: string): Promise<number | undefined>;
  rollbackSecret(name: string, actor: string, environment?: string): Promise<number>;
  deleteSecret(name: string, actor: string): Promise<void>;
  /** Plaintext of one version: only the audited break-glass reveal calls this. */
  secretValue(secretId: string, version: number): Promise<SecretValue>;

  createSandbox(input: CreateSandboxInput): Promise<{ sandbox: SandboxInfo; proxyKey: string; bindings: BindingInfo[] }>;
  listSandboxes(): Promise<SandboxInfo[]>;
  getSandbox(name: string): Promise<SandboxInfo | undefined>;
  deleteSandbox(name: string, actor: string): Promise<void>;
  bind(sandboxName: string, env: string, secretName: string, actor: string, tokenPrefix?: string): Promise<BindingInfo>;
  unbind(sandboxName: string, env: string, actor: string): Promise<void>;
  listBindings(sandboxName: string): Promise<BindingInfo[]>;
  proxyKey(sandboxName: string): Promise<string>;

  audit(actor: string, action: string, target: string, detail?: Record<string, unknown>): Promise<void>;
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;

  readonly apiKeys: ApiKeyStore;

  /**
   * Runs `fn` in one transaction on a view bound to it: all of its changes commit or none
   * (import). Only for a process that makes no other store calls meanwhile (the CLI).
   */
  transaction<T>(fn: (store: AsyncStore) => Promise<T>): Promise<T>;
  /** Re-encrypts every stored value under `newKey` in one transaction (masterkey rotate). */
  rekey(oldKey: Buffer, newKey: Buffer, actor: string, detail?: Record<string, unknown>): Promise<RekeyResult>;
  /** Which key the stored ciphertexts are under (finishing an interrupted rotation). */
  keyInUse(oldKey: Buffer, newKey: Buffer): Promise<'old' | 'new' | 'empty' | 'neither'>;
  /** Resolves when the database answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
