import type { Statement } from 'better-sqlite3';
import { UsageError } from '../errors.js';
import type { AuditRepo } from './audit-repo.js';
import type { Db } from './database.js';
import { DEFAULT_TENANT } from '../model/secrets.js';
import { type TenantInfo } from './types.js';
import { checkLabel, printable } from './validate.js';

/**
 * The tenant's canonical name; a UsageError when it does not exist. Needs only the database, so
 * commands that read the log without the master key can check `--tenant` too.
 */
export function requireTenant(db: Db, name: string): string {
  const n = checkLabel('tenant', name, DEFAULT_TENANT);
  if (db.prepare<[string], { name: string }>('SELECT name FROM tenants WHERE name = ?').get(n) === undefined) {
    throw new UsageError(`no tenant named '${printable(String(name))}' (create it with \`standin tenant create ${n}\`)`);
  }
  return n;
}

/**
 * Tenants: the unit that owns secrets, sandboxes, API keys, audit rows and network-log rows.
 * `default` always exists. A tenant is only ever created, never renamed or deleted, so a row that
 * names one never points at something else later.
 */
export class TenantsRepo {
  readonly #db: Db;
  readonly #clock: () => number;
  readonly #audit: AuditRepo;
  readonly #one: Statement<[string], { name: string; created_at: number }>;
  readonly #all: Statement<[], { name: string; created_at: number }>;
  readonly #insert: Statement<[string, number]>;

  constructor(db: Db, clock: () => number, audit: AuditRepo) {
    this.#db = db;
    this.#clock = clock;
    this.#audit = audit;
    this.#one = db.prepare('SELECT name, created_at FROM tenants WHERE name = ?');
    this.#all = db.prepare('SELECT name, created_at FROM tenants ORDER BY name');
    this.#insert = db.prepare('INSERT INTO tenants (name, created_at) VALUES (?, ?)');
  }

  /** The tenant's canonical name; a UsageError when it does not exist. */
  require(name: string): string {
    return requireTenant(this.#db, name);
  }

  create(name: string, actor: string): TenantInfo {
    const n = checkLabel('tenant', name, DEFAULT_TENANT);
    return this.#db.transaction(() => {
      if (this.#one.get(n) !== undefined) throw new UsageError(`tenant '${n}' already exists`);
      const now = this.#clock();
      this.#insert.run(n, now);
      // The operator's record: tenant-level events are kept in the default tenant's trail.
      this.#audit.record(DEFAULT_TENANT, actor, 'tenant.create', n);
      return { name: n, createdAt: now };
    }).immediate();
  }

  list(): TenantInfo[] {
    return this.#all.all().map((r) => ({ name: r.name, createdAt: r.created_at }));
  }
}
