import { createHash, timingSafeEqual } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { UsageError } from '../errors.js';
import type { AuditRepo } from './audit-repo.js';
import type { BindingsRepo } from './bindings-repo.js';
import { decryptValue, encryptValue, sandboxAad } from './crypto.js';
import type { Db } from './database.js';
import { newId, newProxyKey } from './ids.js';
import { SANDBOX_COLUMNS, toSandbox, type SandboxAuthRow, type SandboxRow } from './rows.js';
import type { BindingInfo, CreateSandboxInput, SandboxInfo } from './types.js';
import { checkEnv, checkName, normalizeHosts, printable } from './validate.js';

/**
 * Sandboxes and their proxy credentials. The key is stored twice: as sha256, which is all the
 * per-connection check needs, and encrypted under the master key, so `sandbox env` and `run` can
 * hand it out again later.
 */
export class SandboxesRepo {
  readonly #db: Db;
  readonly #key: Buffer;
  readonly #clock: () => number;
  readonly #audit: AuditRepo;
  readonly #bindings: BindingsRepo;
  // Compared against when the name is unknown, so a wrong name costs the same as a wrong key.
  readonly #dummyHash = createHash('sha256').update(newProxyKey()).digest();
  readonly #byName: Statement<[string], SandboxRow>;
  readonly #byId: Statement<[string], SandboxRow>;
  readonly #all: Statement<[], SandboxRow>;
  readonly #authByName: Statement<[string], SandboxAuthRow>;
  readonly #keyEnc: Statement<[string], { proxy_key_enc: Buffer }>;
  readonly #insert: Statement<[string, string, string, Buffer, Buffer, number]>;
  readonly #delete: Statement<[string]>;

  constructor(db: Db, key: Buffer, clock: () => number, audit: AuditRepo, bindings: BindingsRepo) {
    this.#db = db;
    this.#key = key;
    this.#clock = clock;
    this.#audit = audit;
    this.#bindings = bindings;
    this.#byName = db.prepare(`SELECT ${SANDBOX_COLUMNS} FROM sandboxes x WHERE x.name = ?`);
    this.#byId = db.prepare(`SELECT ${SANDBOX_COLUMNS} FROM sandboxes x WHERE x.id = ?`);
    this.#all = db.prepare(`SELECT ${SANDBOX_COLUMNS} FROM sandboxes x ORDER BY x.name`);
    this.#authByName = db.prepare(`SELECT ${SANDBOX_COLUMNS}, x.proxy_key_hash FROM sandboxes x WHERE x.name = ?`);
    this.#keyEnc = db.prepare('SELECT proxy_key_enc FROM sandboxes WHERE id = ?');
    this.#insert = db.prepare(
      `INSERT INTO sandboxes (id, name, allow_hosts, proxy_key_hash, proxy_key_enc, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#delete = db.prepare('DELETE FROM sandboxes WHERE id = ?');
  }

  create(input: CreateSandboxInput): { sandbox: SandboxInfo; proxyKey: string; bindings: BindingInfo[] } {
    const name = checkName('sandbox', input.name);
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
      if (this.#byName.get(name) !== undefined) throw new UsageError(`sandbox '${name}' already exists`);
      const hash = createHash('sha256').update(proxyKey, 'utf8').digest();
      const enc = encryptValue(this.#key, proxyKey, sandboxAad(id));
      this.#insert.run(id, name, JSON.stringify(allowHosts), hash, enc, this.#clock());
      const bindings = wanted.map((b) => this.#bindings.put({ id, name }, b.env, b.secretName, b.tokenPrefix));
      this.#audit.record(input.actor, 'sandbox.create', name, {
        allowHosts,
        bindings: bindings.map((b) => ({ env: b.env, secret: b.secretName })),
      });
      return { sandbox: this.#require(name), proxyKey, bindings };
    }).immediate();
  }

  list(): SandboxInfo[] {
    return this.#all.all().map(toSandbox);
  }

  get(name: string): SandboxInfo | undefined {
    const row = this.#byName.get(String(name).trim());
    return row === undefined ? undefined : toSandbox(row);
  }

  getById(id: string): SandboxInfo | undefined {
    const row = this.#byId.get(id);
    return row === undefined ? undefined : toSandbox(row);
  }

  delete(name: string, actor: string): void {
    this.#db.transaction(() => {
      const sandbox = this.#require(name);
      const envs = this.#bindings.listById(sandbox.id).map((b) => b.env);
      this.#delete.run(sandbox.id); // bindings go with it (ON DELETE CASCADE)
      this.#audit.record(actor, 'sandbox.delete', sandbox.name, { bindingsRemoved: envs });
    }).immediate();
  }

  proxyKey(name: string): string {
    const sandbox = this.#require(name);
    const row = this.#keyEnc.get(sandbox.id);
    if (row === undefined) throw new UsageError(`no sandbox named '${printable(String(name))}'`);
    return decryptValue(this.#key, row.proxy_key_enc, sandboxAad(sandbox.id));
  }

  authenticate(name: string, key: string): SandboxInfo | undefined {
    const row = typeof name === 'string' ? this.#authByName.get(name) : undefined;
    const stored = row?.proxy_key_hash;
    const expected = stored !== undefined && stored.length === this.#dummyHash.length ? stored : this.#dummyHash;
    const actual = createHash('sha256').update(typeof key === 'string' ? key : '', 'utf8').digest();
    // Always run the comparison, then require a real row: the dummy hash can never authenticate.
    const match = timingSafeEqual(actual, expected);
    return match && row !== undefined && expected === stored ? toSandbox(row) : undefined;
  }

  #require(name: string): SandboxInfo {
    const info = this.get(name);
    if (info === undefined) throw new UsageError(`no sandbox named '${printable(String(name))}'`);
    return info;
  }
}
