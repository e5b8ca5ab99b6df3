import { RuntimeError, UsageError } from '../../errors.js';
import { DEFAULT_TENANT, type BindingInfo, type SandboxInfo, type SecretInfo } from '../../model/secrets.js';
import type { SecretValue } from '../../secret-value.js';
import { checkApiKeyInput, dummyKeyHash, apiKeyId, keyMatches, needsTouch, newApiKey, toApiKeyInfo, type ApiKeyInfo, type ApiKeyRole, type ApiKeyRow } from '../apikeys-repo.js';
import { auditParams, toAuditEvent, type AuditRow } from '../audit-repo.js';
import { decryptValue, encryptValue, sandboxAad, secretAad } from '../crypto.js';
import type { ApiKeyStore, AsyncStore, RekeyResult } from '../store-api.js';
import type { AuditEvent, AuditFilter, CreateSandboxInput, CreateSecretInput, RotateOptions, TenantInfo } from '../types.js';
import { checkLabel, printable } from '../validate.js';
import { recordAudit, type PgCtx } from './pg-ctx.js';
import { nestedWriter, PgDb, type Queryable } from './pg-db.js';
import { opens, PgKeyRing, sampleCiphertext } from './pg-key-ring.js';
import * as sandboxes from './pg-sandboxes.js';
import * as secrets from './pg-secrets.js';

export interface PgStoreOptions {
  clock?: () => number;
  tenant?: string;
  /** Candidate keys after another process rotated the master key (a long-running gateway). */
  reloadKey?: () => Buffer[];
}

/** AAD of the CA's private key in certificate_authority. */
export const CA_AAD = 'ca';

/**
 * The store on PostgreSQL (node-postgres Pool, parameterised SQL, no ORM), shared by every
 * gateway and CLI of a fleet. Each change is one write transaction: the fleet-wide write lock,
 * the change, its audit row, the change sequence moved on and NOTIFYed (pg-db.ts). The request
 * path never calls this: it reads a PgSnapshot.
 */
export class PgStore implements AsyncStore {
  readonly backend = 'postgres' as const;
  readonly tenant: string;
  readonly apiKeys: ApiKeyStore;
  readonly db: PgDb;
  readonly #c: PgCtx;
  readonly #owner: boolean;
  readonly #views = new Map<string, PgStore>();

  private constructor(db: PgDb, c: PgCtx, tenant: string, owner: boolean) {
    this.db = db;
    this.#c = c;
    this.tenant = tenant;
    this.#owner = owner;
    this.apiKeys = apiKeyStore(c);
  }

  /** A store on `db` (already migrated) as `tenant` sees it; UsageError if the tenant is unknown. */
  static async open(db: PgDb, masterKey: Buffer | PgKeyRing, options: PgStoreOptions = {}): Promise<PgStore> {
    const keys = masterKey instanceof PgKeyRing ? masterKey : new PgKeyRing(masterKey, options.reloadKey);
    const c: PgCtx = { q: db, write: (fn) => db.write(fn), keys, clock: options.clock ?? Date.now };
    const tenant = await requireTenant(db, options.tenant ?? DEFAULT_TENANT);
    return new PgStore(db, c, tenant, true);
  }

  get keys(): PgKeyRing {
    return this.#c.keys;
  }

  async forTenant(tenant: string): Promise<AsyncStore> {
    // A tenant is never renamed or deleted: one seen to exist needs no query again (and the
    // control API's health routes keep answering while the database is away).
    const wanted = checkLabel('tenant', tenant, DEFAULT_TENANT);
    if (wanted === this.tenant) return this;
    let view = this.#views.get(wanted);
    if (view === undefined) {
      view = new PgStore(this.db, this.#c, await requireTenant(this.#c.q, wanted), false);
      this.#views.set(wanted, view);
    }
    return view;
  }

  async createTenant(name: string, actor: string): Promise<TenantInfo> {
    const n = checkLabel('tenant', name, DEFAULT_TENANT);
    return this.#c.write(async (q) => {
      if ((await q.query('SELECT 1 FROM tenants WHERE name = $1', [n])).length > 0) throw new UsageError(`tenant '${n}' already exists`);
      const now = this.#c.clock();
      await q.query('INSERT INTO tenants (name, created_at) VALUES ($1, $2)', [n, now]);
      await recordAudit(q, now, DEFAULT_TENANT, actor, 'tenant.create', n);
      return { name: n, createdAt: now };
    });
  }

  async listTenants(): Promise<TenantInfo[]> {
    const rows = await this.#c.q.query<{ name: string; created_at: number }>('SELECT name, created_at FROM tenants ORDER BY name');
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at }));
  }

  createSecret(input: CreateSecretInput): Promise<SecretInfo> {
    return secrets.createSecret(this.#c, this.tenant, input);
  }
  listSecrets(): Promise<SecretInfo[]> {
    return secrets.listSecrets(this.#c.q, this.tenant);
  }
  getSecret(name: string): Promise<SecretInfo | undefined> {
    return secrets.getSecret(this.#c.q, this.tenant, name);
  }
  rotateSecret(name: string, value: SecretValue, actor: string, options?: RotateOptions): Promise<number> {
    return secrets.rotateSecret(this.#c, this.tenant, name, value, actor, options);
  }
  rotateSecretIfCurrent(secretId: string, environment: string, fromVersion: number, value: SecretValue, actor: string, reason: string): Promise<number | undefined> {
    return secrets.rotateSecretIfCurrent(this.#c, secretId, environment, fromVersion, value, actor, reason);
  }
  rollbackSecret(name: string, actor: string, environment?: string): Promise<number> {
    return secrets.rollbackSecret(this.#c, this.tenant, name, actor, environment);
  }
  deleteSecret(name: string, actor: string): Promise<void> {
    return secrets.deleteSecret(this.#c, this.tenant, name, actor);
  }
  secretValue(secretId: string, version: number): Promise<SecretValue> {
    return secrets.secretValue(this.#c, secretId, version);
  }

  createSandbox(input: CreateSandboxInput): Promise<{ sandbox: SandboxInfo; proxyKey: string; bindings: BindingInfo[] }> {
    return sandboxes.createSandbox(this.#c, this.tenant, input);
  }
  listSandboxes(): Promise<SandboxInfo[]> {
    return sandboxes.listSandboxes(this.#c.q, this.tenant);
  }
  getSandbox(name: string): Promise<SandboxInfo | undefined> {
    return sandboxes.getSandbox(this.#c.q, this.tenant, name);
  }
  deleteSandbox(name: string, actor: string): Promise<void> {
    return sandboxes.deleteSandbox(this.#c, this.tenant, name, actor);
  }
  bind(sandboxName: string, env: string, secretName: string, actor: string, tokenPrefix?: string): Promise<BindingInfo> {
    return sandboxes.bind(this.#c, this.tenant, sandboxName, env, secretName, actor, tokenPrefix);
  }
  unbind(sandboxName: string, env: string, actor: string): Promise<void> {
    return sandboxes.unbind(this.#c, this.tenant, sandboxName, env, actor);
  }
  listBindings(sandboxName: string): Promise<BindingInfo[]> {
    return sandboxes.listBindings(this.#c.q, this.tenant, sandboxName);
  }
  proxyKey(sandboxName: string): Promise<string> {
    return sandboxes.proxyKey(this.#c, this.tenant, sandboxName);
  }

  async audit(actor: string, action: string, target: string, detail?: Record<string, unknown>): Promise<void> {
    await this.#c.write((q) => recordAudit(q, this.#c.clock(), this.tenant, actor, action, target, detail));
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    const p = auditParams(this.tenant, filter);
    const rows = await this.#c.q.query<AuditRow>(
      `SELECT id, at, tenant, actor, action, target, detail FROM
         (SELECT * FROM audit WHERE at >= $1
            AND ($2::text IS NULL OR tenant = $2)
            AND ($3::text IS NULL OR action = $3)
            AND ($4::text IS NULL OR left(action, length($4)) = $4)
            AND ($5::text IS NULL OR lower(target) = lower($5))
            AND ($6::text IS NULL OR actor = $6)
          ORDER BY id DESC LIMIT $7) t
       ORDER BY id`,
      [p.since, p.tenant, p.action, p.actionPrefix, p.target, p.actor, p.limit < 0 ? null : p.limit],
    );
    return rows.map(toAuditEvent);
  }

  /** One transaction on one client; the views' writes inside it are savepoints. */
  async transaction<T>(fn: (store: AsyncStore) => Promise<T>): Promise<T> {
    return this.db.write(async (q) => {
      const inner: PgCtx = { q, write: nestedWriter(q), keys: this.#c.keys, clock: this.#c.clock };
      return fn(new PgStore(this.db, inner, this.tenant, false));
    });
  }

  /**
   * Every ciphertext (secret versions, sandbox proxy keys, the CA's key) re-encrypted under the
   * new key in one transaction, the epoch bumped so that every gateway notices at once.
   */
  async rekey(oldKey: Buffer, newKey: Buffer, actor: string, detail: Record<string, unknown> = {}): Promise<RekeyResult> {
    if (oldKey.equals(newKey)) throw new RuntimeError('the new master key is the same as the current one');
    return this.db.write(async (q) => {
      let secretVersions = 0;
      for (const r of await q.query<{ secret_id: string; version: number; ciphertext: Buffer }>('SELECT secret_id, version, ciphertext FROM secret_versions ORDER BY secret_id, version FOR UPDATE')) {
        const aad = secretAad(r.secret_id, r.version);
        await q.query('UPDATE secret_versions SET ciphertext = $1 WHERE secret_id = $2 AND version = $3', [encryptValue(newKey, reopen(oldKey, r.ciphertext, aad), aad), r.secret_id, r.version]);
        secretVersions++;
      }
      let sandboxCount = 0;
      for (const r of await q.query<{ id: string; proxy_key_enc: Buffer }>('SELECT id, proxy_key_enc FROM sandboxes ORDER BY id FOR UPDATE')) {
        const aad = sandboxAad(r.id);
        await q.query('UPDATE sandboxes SET proxy_key_enc = $1 WHERE id = $2', [encryptValue(newKey, reopen(oldKey, r.proxy_key_enc, aad), aad), r.id]);
        sandboxCount++;
      }
      const ca = (await q.query<{ key_enc: Buffer }>('SELECT key_enc FROM certificate_authority WHERE id = 1 FOR UPDATE'))[0];
      if (ca !== undefined) await q.query('UPDATE certificate_authority SET key_enc = $1 WHERE id = 1', [encryptValue(newKey, reopen(oldKey, ca.key_enc, CA_AAD), CA_AAD)]);
      await q.query('UPDATE master_key_epoch SET epoch = epoch + 1 WHERE id = 1');
      await recordAudit(q, this.#c.clock(), DEFAULT_TENANT, actor, 'masterkey.rotate', 'master-key', { ...detail, secretVersions, sandboxes: sandboxCount, ...(ca !== undefined ? { ca: true } : {}) });
      return { secretVersions, sandboxes: sandboxCount, ca: ca !== undefined };
    });
  }

  async keyInUse(oldKey: Buffer, newKey: Buffer): Promise<'old' | 'new' | 'empty' | 'neither'> {
    const sample = await sampleCiphertext(this.#c.q);
    if (sample === undefined) return 'empty';
    if (opens(oldKey, sample)) return 'old';
    if (opens(newKey, sample)) return 'new';
    return 'neither';
  }

  async ping(): Promise<void> {
    await this.#c.q.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#owner) await this.db.end();
  }
}

async function requireTenant(q: Queryable, name: string): Promise<string> {
  const n = checkLabel('tenant', name, DEFAULT_TENANT);
  if ((await q.query('SELECT 1 FROM tenants WHERE name = $1', [n])).length === 0) {
    throw new UsageError(`no tenant named '${printable(String(name))}' (create it with \`standin tenant create ${n}\`)`);
  }
  return n;
}

/** The tenant's canonical name (needs no master key): `--tenant` checked for log commands. */
export { requireTenant as requirePgTenant };

/**
 * The fleet's API keys without the master key (they are stored as hashes): what `apikey list`
 * reads, as on SQLite, where it needs only the database.
 */
export function pgApiKeyStore(db: PgDb, clock: () => number = Date.now): ApiKeyStore {
  return apiKeyStore({ q: db, write: (fn) => db.write(fn), clock });
}

function apiKeyStore(c: Pick<PgCtx, 'q' | 'write' | 'clock'>): ApiKeyStore {
  const dummy = dummyKeyHash();
  const activeByName = async (q: Queryable, name: string): Promise<ApiKeyRow | undefined> =>
    (await q.query<ApiKeyRow>('SELECT * FROM api_keys WHERE lower(name) = lower($1) AND revoked_at IS NULL', [name]))[0];
  return {
    create: (name: string, role: ApiKeyRole, options: { tenant?: string; canReveal?: boolean } = {}) => {
      const n = checkApiKeyInput(name, role);
      return c.write(async (q) => {
        if ((await activeByName(q, n)) !== undefined) throw new UsageError(`API key '${n}' already exists`);
        const made = newApiKey(n, role, options, c.clock());
        const i = made.info;
        await q.query('INSERT INTO api_keys (id, name, role, tenant, can_reveal, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
          i.id,
          i.name,
          i.role,
          i.tenant,
          i.canReveal,
          made.hash,
          i.createdAt,
        ]);
        return { info: i, key: made.key };
      });
    },
    list: async (): Promise<ApiKeyInfo[]> => (await c.q.query<ApiKeyRow>('SELECT * FROM api_keys ORDER BY created_at, id')).map(toApiKeyInfo),
    revoke: (name: string) =>
      c.write(async (q) => {
        const row = await activeByName(q, typeof name === 'string' ? name.trim() : '');
        if (row === undefined) throw new UsageError(`no API key named '${printable(String(name))}'`);
        const now = c.clock();
        await q.query('UPDATE api_keys SET revoked_at = $1 WHERE id = $2', [now, row.id]);
        return { ...toApiKeyInfo(row), revokedAt: now };
      }),
    verify: async (presented: string) => {
      const id = apiKeyId(presented);
      const row = id === undefined ? undefined : (await c.q.query<ApiKeyRow>('SELECT * FROM api_keys WHERE id = $1 AND revoked_at IS NULL', [id]))[0];
      if (!keyMatches(presented, row, dummy) || row === undefined) return undefined;
      const now = c.clock();
      // Bookkeeping, not a change the fleet must see: no write lock, no change sequence.
      if (needsTouch(row, now)) await c.q.query('UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [now, row.id]).catch(() => undefined);
      return toApiKeyInfo(row);
    },
  };
}

function reopen(key: Buffer, blob: Buffer, aad: string): string {
  try {
    return decryptValue(key, blob, aad);
  } catch {
    throw new RuntimeError('master key rotation aborted: a stored value does not decrypt under the current master key (nothing was changed)');
  }
}

