import { createHash, timingSafeEqual } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { UsageError } from '../errors.js';
import type { AuditRepo } from './audit-repo.js';
import type { BindingsRepo } from './bindings-repo.js';
import { decryptValue, encryptValue, sandboxAad } from './crypto.js';
import type { Db } from './database.js';
import type { MasterKeyRing } from './master-key-ring.js';
import { newId, newProxyKey } from './ids.js';
import { SANDBOX_COLUMNS, toSandbox, type SandboxAuthRow, type SandboxRow } from './rows.js';
import { DEFAULT_ENVIRONMENT, type BindingInfo, type SandboxInfo } from '../model/secrets.js';
import { type CreateSandboxInput } from './types.js';
import { checkEnv, checkLabel, checkName, normalizeHosts, printable } from './validate.js';

const ASCII_NAME = /^[\x21-\x7e]{1,63}$/;

/**
 * Sandboxes and their proxy credentials. The key is stored twice: as sha256, which is all the
 * per-connection check needs, and encrypted under the master key, so `sandbox env` and `run` can
 * hand it out again later.
 */
export class SandboxesRepo {
  readonly #db: Db;
  readonly #keys: MasterKeyRing;
  readonly #clock: () => number;
  readonly #audit: AuditRepo;
  readonly #bindings: BindingsRepo;
  readonly #byName: Statement<[string, string], SandboxRow>;
  readonly #byId: Statement<[string], SandboxRow>;
  readonly #all: Statement<[string], SandboxRow>;
  readonly #authByKey: Statement<[Buffer], SandboxAuthRow>;
  readonly #keyEnc: Statement<[string], { proxy_key_enc: Buffer }>;
  readonly #insert: Statement<[string, string, string, string, string, Buffer, Buffer, number]>;
  readonly #delete: Statement<[string]>;

  constructor(db: Db, keys: MasterKeyRing, clock: () => number, audit: AuditRepo, bindings: BindingsRepo) {
    this.#db = db;
    this.#keys = keys;
    this.#clock = clock;
    this.#audit = audit;
    this.#bindings = bindings;
    this.#byName = db.prepare(`SELECT ${SANDBOX_COLUMNS} FROM sandboxes x WHERE x.tenant = ? AND x.name = ?`);
    this.#byId = db.prepare(`SELECT ${SANDBOX_COLUMNS} FROM sandboxes x WHERE x.id = ?`);
    this.#all = db.prepare(`SELECT ${SANDBOX_COLUMNS} FROM sandboxes x WHERE x.tenant = ? ORDER BY x.name`);
    this.#authByKey = db.prepare(`SELECT ${SANDBOX_COLUMNS}, x.proxy_key_hash FROM sandboxes x WHERE x.proxy_key_hash = ?`);
    this.#keyEnc = db.prepare('SELECT proxy_key_enc FROM sandboxes WHERE id = ?');
    this.#insert = db.prepare(
      `INSERT INTO sandboxes (id, tenant, name, environment, allow_hosts, proxy_key_hash, proxy_key_enc, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#delete = db.prepare('DELETE FROM sandboxes WHERE id = ?');
  }

  create(tenant: string, input: CreateSandboxInput): { sandbox: SandboxInfo; proxyKey: string; bindings: BindingInfo[] } {
    const name = checkName('sandbox', input.name);
    const environment = checkLabel('environment', input.environment, DEFAULT_ENVIRONMENT);
    const allowHosts = normalizeHosts(input.allowHosts ?? [], `allowed hosts of sandbox '${name}'`, true);
    const wanted = input.bindings ?? [];
    const seen = new Set<string>();
    for (const b of wanted) {
      if (seen.has(checkEnv(b.env))) throw new UsageError(`${b.env} is bound twice`);
      seen.add(b.env);
    }
    const id = newId('sbx');
    const proxyKey = newProxyKey();
    return this.#db.transaction(() => {
      if (this.#byName.get(tenant, name) !== undefined) throw new UsageError(`sandbox '${name}' already exists`);
      const hash = createHash('sha256').update(proxyKey, 'utf8').digest();
      const enc = encryptValue(this.#keys.current(), proxyKey, sandboxAad(id));
      this.#insert.run(id, tenant, name, environment, JSON.stringify(allowHosts), hash, enc, this.#clock());
      const bindings = wanted.map((b) => this.#bindings.put({ id, tenant, name, environment }, b.env, b.secretName, b.tokenPrefix));
      this.#audit.record(tenant, input.actor, 'sandbox.create', name, {
        environment,
        allowHosts,
        bindings: bindings.map((b) => ({ env: b.env, secret: b.secretName })),
      });
      return { sandbox: this.#require(tenant, name), proxyKey, bindings };
    }).immediate();
  }

  list(tenant: string): SandboxInfo[] {
    return this.#all.all(tenant).map(toSandbox);
  }

  get(tenant: string, name: string): SandboxInfo | undefined {
    const row = this.#byName.get(tenant, String(name).trim());
    return row === undefined ? undefined : toSandbox(row);
  }

  getById(id: string): SandboxInfo | undefined {
    const row = this.#byId.get(id);
    return row === undefined ? undefined : toSandbox(row);
  }

  delete(tenant: string, name: string, actor: string): void {
    this.#db.transaction(() => {
      const sandbox = this.#require(tenant, name);
      const envs = this.#bindings.listById(sandbox.id).map((b) => b.env);
      this.#delete.run(sandbox.id); // bindings go with it (ON DELETE CASCADE)
      this.#audit.record(tenant, actor, 'sandbox.delete', sandbox.name, { bindingsRemoved: envs });
    }).immediate();
  }

  proxyKey(tenant: string, name: string): string {
    const sandbox = this.#require(tenant, name);
    const row = this.#keyEnc.get(sandbox.id);
    if (row === undefined) throw new UsageError(`no sandbox named '${printable(String(name))}'`);
    return decryptValue(this.#keys.current(), row.proxy_key_enc, sandboxAad(sandbox.id));
  }

  /**
   * The key finds the row through its sha256 (names repeat across tenants); an index lookup on a
   * hash tells a timing observer nothing about the key. The stored hash is compared again in
   * constant time, and the name must be the row's, so a key works only with its own sandbox name.
   */
  authenticate(name: string, key: string): SandboxInfo | undefined {
    if (typeof name !== 'string' || typeof key !== 'string' || key === '') return undefined;
    const actual = createHash('sha256').update(key, 'utf8').digest();
    const row = this.#authByKey.get(actual);
    if (row === undefined || row.proxy_key_hash.length !== actual.length || !timingSafeEqual(actual, row.proxy_key_hash)) return undefined;
    // Names are ASCII; comparing ASCII only keeps Unicode case folding (K, the Kelvin sign) out.
    return ASCII_NAME.test(name) && row.name.toLowerCase() === name.toLowerCase() ? toSandbox(row) : undefined;
  }

  #require(tenant: string, name: string): SandboxInfo {
    const info = this.get(tenant, name);
    if (info === undefined) throw new UsageError(`no sandbox named '${printable(String(name))}'`);
    return info;
  }
}
