import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { homePaths, loadMasterKey, resolveHome, type HomePaths } from '../config/home.js';
import type { NetLogBackend } from '../netlog/backend.js';
import { sqliteNetLog } from '../netlog/sqlite-backend.js';
import { openDatabase, type Db } from '../store/database.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { SqliteAsyncStore } from '../store/sqlite-async-store.js';
import { parseDatabaseChoice, type DatabaseChoice } from '../store/database-url.js';
import type { PgDb } from '../store/pg/pg-db.js';
import type { ApiKeyStore, AsyncStore } from '../store/store-api.js';
import { ApiKeysRepo } from '../store/apikeys-repo.js';
import { pendingKeyPath, readPendingKey } from './masterkey-file.js';
import { DEFAULT_TENANT } from '../model/secrets.js';
import { requireTenant } from '../store/tenants-repo.js';
import { checkLabel } from '../store/validate.js';

/**
 * What a command needs from the home and the database, opened on first use: `providers` touches
 * nothing, `log` needs only the network log, secrets and sandboxes need the master key too. The
 * store is SQLite in the home unless `--database` / STANDIN_DATABASE_URL names PostgreSQL.
 * Commands call `close()` (main does it for them) so the database is closed before exit.
 */
export interface CliContext {
  paths(): HomePaths;
  /** Which database holds the store (checked: a bad URL is a UsageError). */
  database(): DatabaseChoice;
  /** The home's SQLite database (no master key needed). */
  db(): Db;
  /**
   * The network log: the home's SQLite, or with a PostgreSQL `--database` the fleet's log there
   * (its own pool; spooled under the home's `spool/` while the database is away).
   */
  netlog(): Promise<NetLogBackend>;
  /** The store as the selected tenant sees it (`--tenant`, else $STANDIN_TENANT, else default). */
  store(): Promise<AsyncStore>;
  /** The API keys (hashes only: needs no master key). */
  apiKeys(): Promise<ApiKeyStore>;
  /** The selected tenant's name, checked to exist (needs no master key). */
  tenant(): Promise<string>;
  /** PEM of the CA certificate. */
  caPem(): string;
  /** Who the audit log names as the actor of a change. */
  actor(): string;
  close(): Promise<void>;
}

export interface GlobalFlags {
  home?: string | undefined;
  tenant?: string | undefined;
  database?: string | undefined;
}

/**
 * `flags` is read when first needed, after commander has parsed the global `--home`, `--tenant`
 * and `--database`. The local CLI administers the whole store: `--tenant` picks whose view it works in.
 */
export function createContext(flags: () => GlobalFlags, env: NodeJS.ProcessEnv = process.env): CliContext {
  let paths: HomePaths | undefined;
  let choice: DatabaseChoice | undefined;
  let db: Db | undefined;
  let pg: Promise<PgDb> | undefined;
  let store: Promise<AsyncStore> | undefined;
  let tenant: Promise<string> | undefined;
  let netlog: Promise<NetLogBackend> | undefined;
  const homeFlag = (): string | undefined => flags().home;
  const tenantName = (): string => checkLabel('tenant', flags().tenant ?? nonEmpty(env.STANDIN_TENANT), DEFAULT_TENANT);

  const getPaths = (): HomePaths => (paths ??= homePaths(resolveHome(homeFlag(), env)));
  const database = (): DatabaseChoice => (choice ??= parseDatabaseChoice(flags().database ?? env.STANDIN_DATABASE_URL));

  const getDb = (): Db => {
    if (db !== undefined) return db;
    const p = getPaths();
    // Opening would create an empty database in a home that was never set up; say what to do instead.
    if (!existsSync(p.db)) throw notInitialised(p);
    db = openDatabase(p.db);
    return db;
  };

  // node-postgres costs ~100-250 ms to load: only commands that use PostgreSQL pay for it.
  const pgDb = (c: Extract<DatabaseChoice, { kind: 'postgres' }>): Promise<PgDb> => (pg ??= import('../store/pg/open-pg.js').then((m) => m.openPgDatabase(c)));

  const openStore = async (): Promise<AsyncStore> => {
    const p = getPaths();
    const c = database();
    if (c.kind === 'sqlite' && !existsSync(p.db)) throw notInitialised(p);
    const { key, source } = loadMasterKey(p, env);
    // After `masterkey rotate` in another process, a long-running command (serve) takes the
    // new key from the key file, or from the pending file while the rotation is finishing; on
    // PostgreSQL also from STANDIN_MASTER_KEY as it is now (another gateway rotated it).
    const reloadKey = (): Buffer[] =>
      source === 'file' ? [loadMasterKey(p, env).key, readPendingKey(pendingKeyPath(p.masterKey))].filter((k): k is Buffer => k !== undefined) : [];
    if (c.kind === 'postgres') {
      const { PgStore } = await import('../store/pg/pg-store.js');
      return PgStore.open(await pgDb(c), key, { tenant: tenantName(), reloadKey });
    }
    const sqlite = getDb();
    return new SqliteAsyncStore(new SqliteStore(sqlite, key, { tenant: tenantName(), reloadKey }), sqlite);
  };

  const openNetLog = async (): Promise<NetLogBackend> => {
    const c = database();
    if (c.kind === 'sqlite') return sqliteNetLog(getDb());
    // Opening the store's database first brings both schemas up to date (open-pg.ts).
    await pgDb(c);
    const { pgNetLog } = await import('../netlog/pg/backend.js');
    return pgNetLog(c.url, { spool: { dir: join(getPaths().home, 'spool') } });
  };

  return {
    paths: getPaths,
    database,
    db: getDb,
    netlog: () => (netlog ??= openNetLog()),
    store: () => (store ??= openStore()),
    apiKeys: async () => {
      const c = database();
      if (c.kind === 'postgres') return (await import('../store/pg/pg-store.js')).pgApiKeyStore(await pgDb(c));
      const keys = new ApiKeysRepo(getDb());
      return { create: async (n, r, o) => keys.create(n, r, o), list: async () => keys.list(), revoke: async (n) => keys.revoke(n), verify: async (p) => keys.verify(p) };
    },
    tenant: () => {
      const c = database();
      tenant ??= c.kind === 'postgres' ? pgDb(c).then(async (d) => (await import('../store/pg/pg-store.js')).requirePgTenant(d, tenantName())) : Promise.resolve().then(() => requireTenant(getDb(), tenantName()));
      return tenant;
    },
    caPem: () => {
      const p = getPaths();
      try {
        return readFileSync(p.caCert, 'utf8');
      } catch {
        throw notInitialised(p);
      }
    },
    actor: () => `cli:${currentUser()}`,
    close: async () => {
      const log = netlog;
      netlog = undefined;
      await (await log?.catch(() => undefined))?.close();
      const opened = [store, pg];
      store = undefined;
      pg = undefined;
      tenant = undefined;
      // A store on SQLite owns the connection; closing it closes the database.
      for (const o of opened) {
        const x = await o?.catch(() => undefined);
        if (x !== undefined && 'close' in x) await x.close();
        else if (x !== undefined) await x.end();
      }
      if (db?.open === true) db.close();
      db = undefined;
    },
  };
}

export function notInitialised(p: HomePaths): RuntimeError {
  return new RuntimeError(`standin is not initialised at ${p.home}: run \`standin init\``);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

// userInfo() throws on a uid with no passwd entry (common in containers).
function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? 'unknown'}`;
  }
}
