import { RuntimeError } from '../errors.js';
import type { SecretValue } from '../secret-value.js';
import { AuditRepo } from './audit-repo.js';
import { BindingsRepo } from './bindings-repo.js';
import type { Db } from './database.js';
import { SandboxesRepo } from './sandboxes-repo.js';
import { SecretsRepo } from './secrets-repo.js';
import type {
  AuditEvent,
  AuditFilter,
  BindingInfo,
  CreateSandboxInput,
  CreateSecretInput,
  RotateOptions,
  SandboxInfo,
  SecretInfo,
  Store,
  TokenResolution,
} from './types.js';

export interface SqliteStoreOptions {
  /** Epoch-ms clock for created/updated/audit times; injectable for tests. */
  clock?: () => number;
}

/**
 * The Store on one better-sqlite3 connection (from openDatabase). It holds no cached state: every
 * read goes to the file through statements prepared once here, which keeps the per-request calls
 * at a few microseconds and lets a CLI process and the gateway share the database safely.
 */
export class SqliteStore implements Store {
  readonly #db: Db;
  readonly #audit: AuditRepo;
  readonly #secrets: SecretsRepo;
  readonly #bindings: BindingsRepo;
  readonly #sandboxes: SandboxesRepo;

  constructor(db: Db, masterKey: Buffer, options: SqliteStoreOptions = {}) {
    if (masterKey.length !== 32) throw new RuntimeError('master key must be 32 bytes');
    const clock = options.clock ?? Date.now;
    this.#db = db;
    // Cascading deletes of bindings depend on this, whoever opened the connection.
    db.pragma('foreign_keys = ON');
    this.#audit = new AuditRepo(db, clock);
    this.#secrets = new SecretsRepo(db, masterKey, clock, this.#audit);
    this.#bindings = new BindingsRepo(db, clock, this.#audit, this.#secrets);
    this.#sandboxes = new SandboxesRepo(db, masterKey, clock, this.#audit, this.#bindings);
  }

  createSecret(input: CreateSecretInput): SecretInfo {
    return this.#secrets.create(input);
  }

  listSecrets(): SecretInfo[] {
    return this.#secrets.list();
  }

  getSecret(name: string): SecretInfo | undefined {
    return this.#secrets.get(name);
  }

  rotateSecret(name: string, value: SecretValue, actor: string, options?: RotateOptions): number {
    return this.#secrets.rotate(name, value, actor, options);
  }

  rollbackSecret(name: string, actor: string): number {
    return this.#secrets.rollback(name, actor);
  }

  deleteSecret(name: string, actor: string): void {
    this.#secrets.delete(name, actor);
  }

  secretValue(secretId: string, version: number): SecretValue {
    return this.#secrets.value(secretId, version);
  }

  createSandbox(input: CreateSandboxInput): { sandbox: SandboxInfo; proxyKey: string; bindings: BindingInfo[] } {
    return this.#sandboxes.create(input);
  }

  listSandboxes(): SandboxInfo[] {
    return this.#sandboxes.list();
  }

  getSandbox(name: string): SandboxInfo | undefined {
    return this.#sandboxes.get(name);
  }

  getSandboxById(id: string): SandboxInfo | undefined {
    return this.#sandboxes.getById(id);
  }

  deleteSandbox(name: string, actor: string): void {
    this.#sandboxes.delete(name, actor);
  }

  bind(sandboxName: string, env: string, secretName: string, actor: string, tokenPrefix?: string): BindingInfo {
    return this.#bindings.bind(sandboxName, env, secretName, actor, tokenPrefix);
  }

  unbind(sandboxName: string, env: string, actor: string): void {
    this.#bindings.unbind(sandboxName, env, actor);
  }

  listBindings(sandboxName: string): BindingInfo[] {
    return this.#bindings.list(sandboxName);
  }

  proxyKey(sandboxName: string): string {
    return this.#sandboxes.proxyKey(sandboxName);
  }

  authenticateSandbox(name: string, key: string): SandboxInfo | undefined {
    return this.#sandboxes.authenticate(name, key);
  }

  resolveToken(token: string): TokenResolution | undefined {
    return this.#bindings.resolve(token);
  }

  audit(actor: string, action: string, target: string, detail?: Record<string, unknown>): void {
    this.#audit.record(actor, action, target, detail);
  }

  listAudit(filter: AuditFilter): AuditEvent[] {
    return this.#audit.list(filter);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
