import type { Statement } from 'better-sqlite3';
import { GatewayError, RuntimeError, UsageError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import type { AuditRepo } from './audit-repo.js';
import { decryptValue, encryptValue, secretAad } from './crypto.js';
import type { Db } from './database.js';
import type { MasterKeyRing } from './master-key-ring.js';
import { newId } from './ids.js';
import { SECRET_COLUMNS, toSecret, type SecretRow } from './rows.js';
import { DEFAULT_ENVIRONMENT, type SecretInfo } from '../model/secrets.js';
import { DEFAULT_KEEP_VERSIONS, type CreateSecretInput, type RotateOptions } from './types.js';
import { checkKeepVersions, checkLabel, checkName, checkProvider, checkScheme, checkValue, normalizeHosts, printable } from './validate.js';

/**
 * Secrets of each tenant and their encrypted versions. A secret has a value per environment; its
 * versions are numbered in one sequence across environments, and each environment has its own
 * current version. Rotation keeps an environment's newest `keepVersions` (the rollback window)
 * and deletes older ones. Values go in through `SecretValue` and come out only through `value`,
 * which the proxy calls per request.
 */
export class SecretsRepo {
  readonly #db: Db;
  readonly #keys: MasterKeyRing;
  readonly #clock: () => number;
  readonly #audit: AuditRepo;
  readonly #byName: Statement<[string, string], SecretRow>;
  readonly #byId: Statement<[string], SecretRow>;
  readonly #all: Statement<[string], SecretRow>;
  readonly #insert: Statement<[string, string, string, string, string, string | null, number, number, number | null]>;
  readonly #setKeep: Statement<[number, string]>;
  readonly #prune: Statement<{ id: string; env: string; keep: number }, { version: number }>;
  readonly #insertVersion: Statement<[string, number, string, Buffer, number]>;
  readonly #setCurrent: Statement<[string, string, number]>;
  readonly #touch: Statement<[number, string]>;
  readonly #maxVersion: Statement<[string], { v: number | null }>;
  readonly #prevVersion: Statement<[string, string, number], { v: number | null }>;
  readonly #ciphertext: Statement<[string, number], { ciphertext: Buffer }>;
  readonly #usedBy: Statement<[string], { sandbox: string; env: string }>;
  readonly #delete: Statement<[string]>;

  constructor(db: Db, keys: MasterKeyRing, clock: () => number, audit: AuditRepo) {
    this.#db = db;
    this.#keys = keys;
    this.#clock = clock;
    this.#audit = audit;
    this.#byName = db.prepare(`SELECT ${SECRET_COLUMNS} FROM secrets s WHERE s.tenant = ? AND s.name = ?`);
    this.#byId = db.prepare(`SELECT ${SECRET_COLUMNS} FROM secrets s WHERE s.id = ?`);
    this.#all = db.prepare(`SELECT ${SECRET_COLUMNS} FROM secrets s WHERE s.tenant = ? ORDER BY s.name`);
    this.#insert = db.prepare(
      `INSERT INTO secrets (id, tenant, name, scheme, hosts, provider, created_at, updated_at, keep_versions)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#setKeep = db.prepare('UPDATE secrets SET keep_versions = ? WHERE id = ?');
    // Deletes the environment's versions older than its newest `keep`, never its current one
    // (after a rollback the current version may be older than the newest).
    this.#prune = db.prepare(
      `DELETE FROM secret_versions WHERE secret_id = @id AND environment = @env AND version NOT IN
         (SELECT version FROM secret_versions WHERE secret_id = @id AND environment = @env ORDER BY version DESC LIMIT @keep)
       AND version <> (SELECT version FROM secret_current WHERE secret_id = @id AND environment = @env)
       RETURNING version`,
    );
    this.#insertVersion = db.prepare(
      'INSERT INTO secret_versions (secret_id, version, environment, ciphertext, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.#setCurrent = db.prepare(
      `INSERT INTO secret_current (secret_id, environment, version) VALUES (?, ?, ?)
       ON CONFLICT (secret_id, environment) DO UPDATE SET version = excluded.version`,
    );
    this.#touch = db.prepare('UPDATE secrets SET updated_at = ? WHERE id = ?');
    this.#maxVersion = db.prepare('SELECT MAX(version) AS v FROM secret_versions WHERE secret_id = ?');
    this.#prevVersion = db.prepare(
      'SELECT MAX(version) AS v FROM secret_versions WHERE secret_id = ? AND environment = ? AND version < ?',
    );
    this.#ciphertext = db.prepare('SELECT ciphertext FROM secret_versions WHERE secret_id = ? AND version = ?');
    this.#usedBy = db.prepare(
      `SELECT x.name AS sandbox, b.env FROM bindings b JOIN sandboxes x ON x.id = b.sandbox_id
       WHERE b.secret_id = ? ORDER BY x.name, b.env`,
    );
    this.#delete = db.prepare('DELETE FROM secrets WHERE id = ?');
  }

  create(tenant: string, input: CreateSecretInput): SecretInfo {
    const name = checkName('secret', input.name);
    const scheme = checkScheme(input.scheme);
    const hosts = normalizeHosts(input.hosts, `secret '${name}'`, false);
    const provider = checkProvider(input.provider);
    const plaintext = checkValue(input.value);
    const keep = checkKeepVersions(input.keepVersions) ?? null;
    const environment = checkLabel('environment', input.environment, DEFAULT_ENVIRONMENT);
    const id = newId('sec');
    return this.#db.transaction(() => {
      if (this.#byName.get(tenant, name) !== undefined) throw new UsageError(`secret '${name}' already exists`);
      const now = this.#clock();
      this.#insert.run(id, tenant, name, JSON.stringify(scheme), JSON.stringify(hosts), provider, now, now, keep);
      this.#insertVersion.run(id, 1, environment, encryptValue(this.#keys.current(), plaintext, secretAad(id, 1)), now);
      this.#setCurrent.run(id, environment, 1);
      this.#audit.record(tenant, input.actor, 'secret.create', name, { scheme: scheme.kind, hosts, provider, environment, version: 1 });
      return this.require(tenant, name);
    }).immediate();
  }

  list(tenant: string): SecretInfo[] {
    return this.#all.all(tenant).map(toSecret);
  }

  get(tenant: string, name: string): SecretInfo | undefined {
    const row = this.#byName.get(tenant, String(name).trim());
    return row === undefined ? undefined : toSecret(row);
  }

  /** The secret, or a UsageError naming it; for commands that act on an existing secret. */
  require(tenant: string, name: string): SecretInfo {
    const found = this.get(tenant, name);
    if (found === undefined) throw new UsageError(`no secret named '${printable(String(name))}'`);
    return found;
  }

  /** Adds a version for one environment (its first value there, or the next one) and makes it current. */
  rotate(tenant: string, name: string, value: SecretValue, actor: string, options: RotateOptions = {}): number {
    const plaintext = checkValue(value);
    const keepChange = checkKeepVersions(options.keepVersions);
    const environment = checkLabel('environment', options.environment, DEFAULT_ENVIRONMENT);
    return this.#db.transaction(() => {
      const secret = this.require(tenant, name);
      const from = secret.environments.find((e) => e.name === environment)?.currentVersion ?? null;
      return this.#addVersion(secret, environment, plaintext, keepChange, actor, { from });
    }).immediate();
  }

  /**
   * Adds a version to one environment only if its current version is still `fromVersion`, in one
   * transaction (compare and set): for a value the gateway itself must replace, such as an
   * OAuth2 refresh token that the provider rotates on every use. Returns the new version, or
   * undefined when the current version has moved on (rotated or rolled back meanwhile) and
   * nothing was written. Audited as a rotation with the reason.
   */
  rotateIfCurrent(secretId: string, environment: string, fromVersion: number, value: SecretValue, actor: string, reason: string): number | undefined {
    const plaintext = checkValue(value);
    return this.#db.transaction(() => {
      const row = this.#byId.get(secretId);
      const secret = row === undefined ? undefined : toSecret(row);
      const from = secret?.environments.find((e) => e.name === environment)?.currentVersion;
      if (secret === undefined || from !== fromVersion) return undefined;
      return this.#addVersion(secret, environment, plaintext, undefined, actor, { from, reason });
    }).immediate();
  }

  // Inside the caller's transaction: the next version made current, retention applied, audited.
  #addVersion(secret: SecretInfo, environment: string, plaintext: string, keepChange: number | undefined, actor: string, detail: { from: number | null; reason?: string }): number {
    // After a rollback the current version is below the highest one; never reuse a number.
    const next = (this.#maxVersion.get(secret.id)?.v ?? 0) + 1;
    const now = this.#clock();
    this.#insertVersion.run(secret.id, next, environment, encryptValue(this.#keys.current(), plaintext, secretAad(secret.id, next)), now);
    this.#setCurrent.run(secret.id, environment, next);
    this.#touch.run(now, secret.id);
    if (keepChange !== undefined) this.#setKeep.run(keepChange, secret.id);
    const keep = keepChange ?? secret.keepVersions ?? DEFAULT_KEEP_VERSIONS;
    const pruned = this.#prune.all({ id: secret.id, env: environment, keep }).map((r) => r.version).sort((a, b) => a - b);
    this.#audit.record(secret.tenant, actor, 'secret.rotate', secret.name, {
      environment,
      from: detail.from,
      to: next,
      keep,
      ...(pruned.length > 0 ? { pruned } : {}),
      ...(detail.reason !== undefined ? { reason: detail.reason } : {}),
    });
    return next;
  }

  rollback(tenant: string, name: string, actor: string, environment?: string): number {
    const env = checkLabel('environment', environment, DEFAULT_ENVIRONMENT);
    return this.#db.transaction(() => {
      const secret = this.require(tenant, name);
      const current = secret.environments.find((e) => e.name === env)?.currentVersion;
      if (current === undefined) throw new UsageError(`secret '${secret.name}' has no value for environment ${env}`);
      const prev = this.#prevVersion.get(secret.id, env, current)?.v ?? null;
      if (prev === null) {
        throw new UsageError(`secret '${secret.name}' has no version before v${current} in environment ${env} to roll back to`);
      }
      this.#setCurrent.run(secret.id, env, prev);
      this.#touch.run(this.#clock(), secret.id);
      this.#audit.record(tenant, actor, 'secret.rollback', secret.name, { environment: env, from: current, to: prev });
      return prev;
    }).immediate();
  }

  delete(tenant: string, name: string, actor: string): void {
    this.#db.transaction(() => {
      const secret = this.require(tenant, name);
      const usedBy = this.#usedBy.all(secret.id).map((u) => `${u.sandbox}:${u.env}`);
      // Versions and bindings (the stand-in tokens) go with it through ON DELETE CASCADE.
      this.#delete.run(secret.id);
      this.#audit.record(tenant, actor, 'secret.delete', secret.name, {
        versions: secret.versions,
        bindingsRemoved: usedBy,
      });
    }).immediate();
  }

  /**
   * Plaintext of one version, for the proxy. Failures are GatewayErrors (GW_SECRET_UNAVAILABLE),
   * because the only caller is on the request path and maps them to a 502 and a log row.
   */
  value(secretId: string, version: number): SecretValue {
    try {
      return this.#open(secretId, version);
    } catch (e) {
      if (!(e instanceof RuntimeError)) throw e;
      // A key rotation may have committed between reading the key and the ciphertext: once more.
      try {
        return this.#open(secretId, version);
      } catch (again) {
        if (again instanceof RuntimeError) throw new GatewayError('GW_SECRET_UNAVAILABLE', `secret ${secretId}: ${again.message}`);
        throw again;
      }
    }
  }

  #open(secretId: string, version: number): SecretValue {
    const key = this.#keys.current();
    const row = this.#ciphertext.get(secretId, version);
    if (row === undefined) {
      throw new GatewayError('GW_SECRET_UNAVAILABLE', `secret ${secretId} has no version ${version}`);
    }
    return new SecretValue(decryptValue(key, row.ciphertext, secretAad(secretId, version)));
  }
}
