import type { BindingInfo, SandboxInfo, SecretInfo } from '../model/secrets.js';
import type { SecretValue } from '../secret-value.js';
import { ApiKeysRepo, type ApiKeyInfo, type ApiKeyRole } from './apikeys-repo.js';
import type { Db } from './database.js';
import { keyInUse, reencryptAll } from './rekey.js';
import type { ApiKeyStore, AsyncStore, RekeyResult } from './store-api.js';
import type { AuditEvent, AuditFilter, CreateSandboxInput, CreateSecretInput, RotateOptions, Store, TenantInfo } from './types.js';

/**
 * The async storage interface over the SQLite store: each call is the synchronous one (a few
 * microseconds on a local file), so nothing here waits on anything but the file lock.
 */
export class SqliteAsyncStore implements AsyncStore {
  readonly backend = 'sqlite' as const;
  readonly apiKeys: ApiKeyStore;
  readonly #store: Store;
  readonly #db: Db;
  readonly #clock: () => number;

  constructor(store: Store, db: Db, clock: () => number = Date.now) {
    this.#store = store;
    this.#db = db;
    this.#clock = clock;
    const keys = new ApiKeysRepo(db, clock);
    this.apiKeys = {
      create: async (name: string, role: ApiKeyRole, options?: { tenant?: string; canReveal?: boolean }) => keys.create(name, role, options),
      list: async (): Promise<ApiKeyInfo[]> => keys.list(),
      revoke: async (name: string) => keys.revoke(name),
      verify: async (presented: string) => keys.verify(presented),
    };
  }

  get tenant(): string {
    return this.#store.tenant;
  }

  /** The synchronous store beneath: what the request path reads. */
  get sync(): Store {
    return this.#store;
  }

  async forTenant(tenant: string): Promise<AsyncStore> {
    const view = this.#store.forTenant(tenant);
    return view === this.#store ? this : new SqliteAsyncStore(view, this.#db, this.#clock);
  }

  async createTenant(name: string, actor: string): Promise<TenantInfo> {
    return this.#store.createTenant(name, actor);
  }
  async listTenants(): Promise<TenantInfo[]> {
    return this.#store.listTenants();
  }
  async createSecret(input: CreateSecretInput): Promise<SecretInfo> {
    return this.#store.createSecret(input);
  }
  async listSecrets(): Promise<SecretInfo[]> {
    return this.#store.listSecrets();
  }
  async getSecret(name: string): Promise<SecretInfo | undefined> {
    return this.#store.getSecret(name);
  }
  async rotateSecret(name: string, value: SecretValue, actor: string, options?: RotateOptions): Promise<number> {
    return this.#store.rotateSecret(name, value, actor, options);
  }
  async rotateSecretIfCurrent(secretId: string, environment: string, fromVersion: number, value: SecretValue, actor: string, reason: string): Promise<number | undefined> {
    return this.#store.rotateSecretIfCurrent(secretId, environment, fromVersion, value, actor, reason);
  }
  async rollbackSecret(name: string, actor: string, environment?: string): Promise<number> {
    return this.#store.rollbackSecret(name, actor, environment);
  }
  async deleteSecret(name: string, actor: string): Promise<void> {
    this.#store.deleteSecret(name, actor);
  }
  async secretValue(secretId: string, version: number): Promise<SecretValue> {
    return this.#store.secretValue(secretId, version);
  }
  async createSandbox(input: CreateSandboxInput): Promise<{ sandbox: SandboxInfo; proxyKey: string; bindings: BindingInfo[] }> {
    return this.#store.createSandbox(input);
  }
  async listSandboxes(): Promise<SandboxInfo[]> {
    return this.#store.listSandboxes();
  }
  async getSandbox(name: string): Promise<SandboxInfo | undefined> {
    return this.#store.getSandbox(name);
  }
  async deleteSandbox(name: string, actor: string): Promise<void> {
    this.#store.deleteSandbox(name, actor);
  }
  async bind(sandboxName: string, env: string, secretName: string, actor: string, tokenPrefix?: string): Promise<BindingInfo> {
    return this.#store.bind(sandboxName, env, secretName, actor, tokenPrefix);
  }
  async unbind(sandboxName: string, env: string, actor: string): Promise<void> {
    this.#store.unbind(sandboxName, env, actor);
  }
  async listBindings(sandboxName: string): Promise<BindingInfo[]> {
    return this.#store.listBindings(sandboxName);
  }
  async proxyKey(sandboxName: string): Promise<string> {
    return this.#store.proxyKey(sandboxName);
  }
  async audit(actor: string, action: string, target: string, detail?: Record<string, unknown>): Promise<void> {
    this.#store.audit(actor, action, target, detail);
  }
  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.#store.listAudit(filter);
  }

  // The repositories' own transactions nest inside this one as savepoints (better-sqlite3).
  async transaction<T>(fn: (store: AsyncStore) => Promise<T>): Promise<T> {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const out = await fn(this);
      this.#db.exec('COMMIT');
      return out;
    } catch (e) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  async rekey(oldKey: Buffer, newKey: Buffer, actor: string, detail?: Record<string, unknown>): Promise<RekeyResult> {
    return reencryptAll(this.#db, oldKey, newKey, actor, detail, this.#clock);
  }

  async keyInUse(oldKey: Buffer, newKey: Buffer): Promise<'old' | 'new' | 'empty' | 'neither'> {
    return keyInUse(this.#db, oldKey, newKey);
  }

  async ping(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.#store.close();
  }
}
