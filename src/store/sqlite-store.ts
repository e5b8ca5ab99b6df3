import type { UnboundSecret } from '../model/secrets.js';
import type { SecretValue } from '../secret-value.js';
import { AuditRepo } from './audit-repo.js';
import { BindingsRepo } from './bindings-repo.js';
import type { Db } from './database.js';
import { SandboxesRepo } from './sandboxes-repo.js';
import { SecretsRepo } from './secrets-repo.js';
import { LookupCache } from './lookup-cache.js';
import { MasterKeyRing } from './master-key-ring.js';
import { TenantsRepo } from './tenants-repo.js';
import { DEFAULT_TENANT } from '../model/secrets.js';
import { type TenantInfo } from './types.js';
import type { AuditEvent, AuditFilter, CreateSandboxInput, CreateSecretInput, RotateOptions, Store } from './types.js';
import type { BindingInfo, SandboxInfo, SecretInfo, TokenResolution } from '../model/secrets.js';

export interface SqliteStoreOptions {
  /** Epoch-ms clock for created/updated/audit times; injectable for tests. */
  clock?: () => number;
  /** The tenant this store is a view of (it must exist); default `default`. */
  tenant?: string;
  /**
   * Candidate keys after another process rotated the master key (a long-running gateway passes
   * the key files); without it, a stale key is an error.
   */
  reloadKey?: () => Buffer[];
  /** Shared by the views of one connection (forTenant); made here when not given. */
  lookups?: LookupCache;
}

/**
 * The Store on one better-sqlite3 connection (from openDatabase). It holds no cached state: every
 * read goes to the file through statements prepared once here, which keeps the per-request calls
 * at a few microseconds and lets a CLI process and the gateway share the database safely.
 */
export class SqliteStore implements Store {
  readonly tenant: string;
  readonly #db: Db;
  readonly #keys: MasterKeyRing;
  readonly #lookups: LookupCache;
  readonly #clock: () => number;
  readonly #audit: AuditRepo;
  readonly #tenants: TenantsRepo;
  readonly #secrets: SecretsRepo;
  readonly #bindings: BindingsRepo;
  readonly #sandboxes: SandboxesRepo;
  // Views of other tenants on this connection, made once each (a view prepares its statements).
  readonly #views = new Map<string, SqliteStore>();

  constructor(db: Db, masterKey: Buffer | MasterKeyRing, options: SqliteStoreOptions = {}) {
    const clock = options.clock ?? Date.now;
    this.#db = db;
    this.#keys = Buffer.isBuffer(masterKey) ? new MasterKeyRing(db, masterKey, options.reloadKey) : masterKey;
    this.#lookups = options.lookups ?? new LookupCache(db);
    this.#clock = clock;
    // Cascading deletes of bindings depend on this, whoever opened the connection.
    db.pragma('foreign_keys = ON');
    this.#audit = new AuditRepo(db, clock);
    this.#tenants = new TenantsRepo(db, clock, this.#audit);
    this.#secrets = new SecretsRepo(db, this.#keys, clock, this.#audit);
    this.#bindings = new BindingsRepo(db, clock, this.#audit, this.#secrets);
    this.#sandboxes = new SandboxesRepo(db, this.#keys, clock, this.#audit, this.#bindings);
    this.tenant = this.#tenants.require(options.tenant ?? DEFAULT_TENANT);
  }

  forTenant(tenant: string): Store {
    const name = this.#tenants.require(tenant);
    if (name === this.tenant) return this;
    let view = this.#views.get(name);
    if (view === undefined) {
      view = new SqliteStore(this.#db, this.#keys, { clock: this.#clock, tenant: name, lookups: this.#lookups });
      this.#views.set(name, view);
    }
    return view;
  }

  createTenant(name: string, actor: string): TenantInfo {
    return this.#tenants.create(name, actor);
  }

  listTenants(): TenantInfo[] {
    return this.#tenants.list();
  }

  createSecret(input: CreateSecretInput): SecretInfo {
    return this.#secrets.create(this.tenant, input);
  }

  listSecrets(): SecretInfo[] {
    return this.#secrets.list(this.tenant);
  }

  getSecret(name: string): SecretInfo | undefined {
    return this.#secrets.get(this.tenant, name);
  }

  rotateSecret(name: string, value: SecretValue, actor: string, options?: RotateOptions): number {
    return this.#secrets.rotate(this.tenant, name, value, actor, options);
  }

  rotateSecretIfCurrent(secretId: string, environment: string, fromVersion: number, value: SecretValue, actor: string, reason: string): number | undefined {
    return this.#secrets.rotateIfCurrent(secretId, environment, fromVersion, value, actor, reason);
  }

  rollbackSecret(name: string, actor: string, environment?: string): number {
    return this.#secrets.rollback(this.tenant, name, actor, environment);
  }

  deleteSecret(name: string, actor: string): void {
    this.#secrets.delete(this.tenant, name, actor);
  }

  secretValue(secretId: string, version: number): SecretValue {
    return this.#secrets.value(secretId, version);
  }

  createSandbox(input: CreateSandboxInput): { sandbox: SandboxInfo; proxyKey: string; bindings: BindingInfo[] } {
    return this.#sandboxes.create(this.tenant, input);
  }

  listSandboxes(): SandboxInfo[] {
    return this.#sandboxes.list(this.tenant);
  }

  getSandbox(name: string): SandboxInfo | undefined {
    return this.#sandboxes.get(this.tenant, name);
  }

  getSandboxById(id: string): SandboxInfo | undefined {
    return this.#lookups.sandbox(id, () => this.#sandboxes.getById(id));
  }

  deleteSandbox(name: string, actor: string): void {
    this.#sandboxes.delete(this.tenant, name, actor);
  }

  bind(sandboxName: string, env: string, secretName: string, actor: string, tokenPrefix?: string): BindingInfo {
    return this.#bindings.bind(this.tenant, sandboxName, env, secretName, actor, tokenPrefix);
  }

  unbind(sandboxName: string, env: string, actor: string): void {
    this.#bindings.unbind(this.tenant, sandboxName, env, actor);
  }

  listBindings(sandboxName: string): BindingInfo[] {
    return this.#bindings.list(this.tenant, sandboxName);
  }

  proxyKey(sandboxName: string): string {
    return this.#sandboxes.proxyKey(this.tenant, sandboxName);
  }

  authenticateSandbox(name: string, key: string): SandboxInfo | undefined {
    return this.#sandboxes.authenticate(name, key);
  }

  tokensOfSandbox(sandboxId: string): readonly string[] {
    return this.#lookups.sandboxTokens(sandboxId, () => this.#bindings.listById(sandboxId).map((b) => b.token));
  }

  unboundSecrets(sandboxId: string): readonly UnboundSecret[] {
    return this.#lookups.unbound(sandboxId, () => this.#bindings.unbound(sandboxId));
  }

  resolveToken(token: string): TokenResolution | undefined {
    if (typeof token !== 'string' || token === '') return undefined;
    return this.#lookups.token(token, () => this.#bindings.resolve(token));
  }

  audit(actor: string, action: string, target: string, detail?: Record<string, unknown>): void {
    this.#audit.record(this.tenant, actor, action, target, detail);
  }

  listAudit(filter: AuditFilter): AuditEvent[] {
    return this.#audit.list(this.tenant, filter);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
