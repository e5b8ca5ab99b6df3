import type { Statement } from 'better-sqlite3';
import { GatewayError, RuntimeError, UsageError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import type { AuditRepo } from './audit-repo.js';
import { decryptValue, encryptValue, secretAad } from './crypto.js';
import type { Db } from './database.js';
import { newId } from './ids.js';
import { SECRET_COLUMNS, toSecret, type SecretRow } from './rows.js';
import { DEFAULT_KEEP_VERSIONS, type CreateSecretInput, type RotateOptions, type SecretInfo } from './types.js';
import { checkKeepVersions, checkName, checkProvider, checkScheme, checkValue, normalizeHosts, printable } from './validate.js';

/**
 * Secrets and their encrypted versions. Rotation keeps the newest `keepVersions` (the rollback
 * window) and deletes older ones; the current one is what the proxy applies. Values go in through `SecretValue` and come out only through
 * `value`, which the proxy calls per request.
 */
export class SecretsRepo {
  readonly #db: Db;
  readonly #key: Buffer;
  readonly #clock: () => number;
  readonly #audit: AuditRepo;
  readonly #byName: Statement<[string], SecretRow>;
  readonly #all: Statement<[], SecretRow>;
  readonly #insert: Statement<[string, string, string, string, string | null, number, number, number | null]>;
  readonly #setKeep: Statement<[number, string]>;
  readonly #prune: Statement<[string, string, number], { version: number }>;
  readonly #insertVersion: Statement<[string, number, Buffer, number]>;
  readonly #setCurrent: Statement<[number, number, string]>;
  readonly #maxVersion: Statement<[string], { v: number | null }>;
  readonly #prevVersion: Statement<[string, number], { v: number | null }>;
  readonly #ciphertext: Statement<[string, number], { ciphertext: Buffer }>;
  readonly #usedBy: Statement<[string], { sandbox: string; env: string }>;
  readonly #delete: Statement<[string]>;

  constructor(db: Db, key: Buffer, clock: () => number, audit: AuditRepo) {
    this.#db = db;
    this.#key = key;
    this.#clock = clock;
    this.#audit = audit;
    this.#byName = db.prepare(`SELECT ${SECRET_COLUMNS} FROM secrets s WHERE s.name = ?`);
    this.#all = db.prepare(`SELECT ${SECRET_COLUMNS} FROM secrets s ORDER BY s.name`);
    this.#insert = db.prepare(
      `INSERT INTO secrets (id, name, scheme, hosts, provider, current_version, created_at, updated_at, keep_versions)
       VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`,
    );
    this.#setKeep = db.prepare('UPDATE secrets SET keep_versions = ? WHERE id = ?');
    // Deletes every version older than the newest `keep`, never the current one (after a
    // rollback the current version may be older than the newest).
    this.#prune = db.prepare(
      `DELETE FROM secret_versions WHERE secret_id = ? AND version NOT IN
         (SELECT version FROM secret_versions WHERE secret_id = ? ORDER BY version DESC LIMIT ?)
       AND version <> (SELECT current_version FROM secrets WHERE id = secret_id)
       RETURNING version`,
    );
    this.#insertVersion = db.prepare(
      'INSERT INTO secret_versions (secret_id, version, ciphertext, created_at) VALUES (?, ?, ?, ?)',
    );
    this.#setCurrent = db.prepare('UPDATE secrets SET current_version = ?, updated_at = ? WHERE id = ?');
    this.#maxVersion = db.prepare('SELECT MAX(version) AS v FROM secret_versions WHERE secret_id = ?');
    this.#prevVersion = db.prepare(
      'SELECT MAX(version) AS v FROM secret_versions WHERE secret_id = ? AND version < ?',
    );
    this.#ciphertext = db.prepare('SELECT ciphertext FROM secret_versions WHERE secret_id = ? AND version = ?');
    this.#usedBy = db.prepare(
      `SELECT x.name AS sandbox, b.env FROM bindings b JOIN sandboxes x ON x.id = b.sandbox_id
       WHERE b.secret_id = ? ORDER BY x.name, b.env`,
    );
    this.#delete = db.prepare('DELETE FROM secrets WHERE id = ?');
  }

  create(input: CreateSecretInput): SecretInfo {
    const name = checkName('secret', input.name);
    const scheme = checkScheme(input.scheme);
    const hosts = normalizeHosts(input.hosts, `secret '${name}'`, false);
    const provider = checkProvider(input.provider);
    const plaintext = checkValue(input.value);
    const keep = checkKeepVersions(input.keepVersions) ?? null;
    const id = newId('sec');
    return this.#db.transaction(() => {
      if (this.#byName.get(name) !== undefined) throw new UsageError(`secret '${name}' already exists`);
      const now = this.#clock();
      this.#insert.run(id, name, JSON.stringify(scheme), JSON.stringify(hosts), provider, now, now, keep);
      this.#insertVersion.run(id, 1, encryptValue(this.#key, plaintext, secretAad(id, 1)), now);
      this.#audit.record(input.actor, 'secret.create', name, { scheme: scheme.kind, hosts, provider, version: 1 });
      return this.#require(name);
    }).immediate();
  }

  list(): SecretInfo[] {
    return this.#all.all().map(toSecret);
  }

  get(name: string): SecretInfo | undefined {
    const row = this.#byName.get(String(name).trim());
    return row === undefined ? undefined : toSecret(row);
  }

  /** The secret, or a UsageError naming it; for commands that act on an existing secret. */
  require(name: string): SecretInfo {
    return this.#require(name);
  }

  rotate(name: string, value: SecretValue, actor: string, options: RotateOptions = {}): number {
    const plaintext = checkValue(value);
    const keepChange = checkKeepVersions(options.keepVersions);
    return this.#db.transaction(() => {
      const secret = this.#require(name);
      // After a rollback the current version is below the highest one; never reuse a number.
      const next = (this.#maxVersion.get(secret.id)?.v ?? 0) + 1;
      const now = this.#clock();
      this.#insertVersion.run(secret.id, next, encryptValue(this.#key, plaintext, secretAad(secret.id, next)), now);
      this.#setCurrent.run(next, now, secret.id);
      if (keepChange !== undefined) this.#setKeep.run(keepChange, secret.id);
      const keep = keepChange ?? secret.keepVersions ?? DEFAULT_KEEP_VERSIONS;
      const pruned = this.#prune.all(secret.id, secret.id, keep).map((r) => r.version).sort((a, b) => a - b);
      this.#audit.record(actor, 'secret.rotate', secret.name, {
        from: secret.currentVersion,
        to: next,
        keep,
        ...(pruned.length > 0 ? { pruned } : {}),
      });
      return next;
    }).immediate();
  }

  rollback(name: string, actor: string): number {
    return this.#db.transaction(() => {
      const secret = this.#require(name);
      const prev = this.#prevVersion.get(secret.id, secret.currentVersion)?.v ?? null;
      if (prev === null) {
        throw new UsageError(`secret '${secret.name}' has no version before v${secret.currentVersion} to roll back to`);
      }
      this.#setCurrent.run(prev, this.#clock(), secret.id);
      this.#audit.record(actor, 'secret.rollback', secret.name, { from: secret.currentVersion, to: prev });
      return prev;
    }).immediate();
  }

  delete(name: string, actor: string): void {
    this.#db.transaction(() => {
      const secret = this.#require(name);
      const usedBy = this.#usedBy.all(secret.id).map((u) => `${u.sandbox}:${u.env}`);
      // Versions and bindings (the stand-in tokens) go with it through ON DELETE CASCADE.
      this.#delete.run(secret.id);
      this.#audit.record(actor, 'secret.delete', secret.name, {
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
    const row = this.#ciphertext.get(secretId, version);
    if (row === undefined) {
      throw new GatewayError('GW_SECRET_UNAVAILABLE', `secret ${secretId} has no version ${version}`);
    }
    try {
      return new SecretValue(decryptValue(this.#key, row.ciphertext, secretAad(secretId, version)));
    } catch (e) {
      if (e instanceof RuntimeError) throw new GatewayError('GW_SECRET_UNAVAILABLE', `secret ${secretId}: ${e.message}`);
      throw e;
    }
  }

  #require(name: string): SecretInfo {
    const row = this.#byName.get(String(name).trim());
    if (row === undefined) throw new UsageError(`no secret named '${printable(String(name))}'`);
    return toSecret(row);
  }
}
