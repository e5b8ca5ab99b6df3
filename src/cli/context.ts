import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { RuntimeError } from '../errors.js';
import { homePaths, loadMasterKey, resolveHome, type HomePaths } from '../config/home.js';
import type { NetLogBackend } from '../netlog/backend.js';
import { sqliteNetLog } from '../netlog/sqlite-backend.js';
import { openDatabase, type Db } from '../store/database.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { pendingKeyPath, readPendingKey } from './masterkey-file.js';
import { DEFAULT_TENANT } from '../model/secrets.js';
import { type Store } from '../store/types.js';
import { requireTenant } from '../store/tenants-repo.js';
import { checkLabel } from '../store/validate.js';

/**
 * What a command needs from the home, opened on first use: `providers` touches nothing, `log`
 * needs only the database, secrets and sandboxes need the master key too. Commands call
 * `close()` (main does it for them) so the database is closed before the process exits.
 */
export interface CliContext {
  paths(): HomePaths;
  /** The database alone (no master key): for reading the network log. */
  db(): Db;
  /**
   * The network log: the home's database today. (Fleet mode points this at PostgreSQL:
   * pgNetLog in src/netlog/pg/backend.ts, once `--database` selects it.)
   */
  netlog(): NetLogBackend;
  /** The store as the selected tenant sees it (`--tenant`, else $STANDIN_TENANT, else default). */
  store(): Store;
  /** The selected tenant's name, checked to exist (needs only the database). */
  tenant(): string;
  /** PEM of the CA certificate. */
  caPem(): string;
  /** Who the audit log names as the actor of a change. */
  actor(): string;
  close(): void;
}

/**
 * `flags` is read when first needed, after commander has parsed the global `--home` and
 * `--tenant`. The local CLI administers the whole home: `--tenant` picks whose view it works in.
 */
export function createContext(
  flags: () => { home?: string | undefined; tenant?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): CliContext {
  let paths: HomePaths | undefined;
  let db: Db | undefined;
  let store: Store | undefined;
  let tenant: string | undefined;
  const homeFlag = (): string | undefined => flags().home;
  const tenantName = (): string => checkLabel('tenant', flags().tenant ?? nonEmpty(env.STANDIN_TENANT), DEFAULT_TENANT);

  const getPaths = (): HomePaths => (paths ??= homePaths(resolveHome(homeFlag(), env)));

  const getDb = (): Db => {
    if (db !== undefined) return db;
    const p = getPaths();
    // Opening would create an empty database in a home that was never set up; say what to do instead.
    if (!existsSync(p.db)) throw notInitialised(p);
    db = openDatabase(p.db);
    return db;
  };

  return {
    paths: getPaths,
    db: getDb,
    netlog: () => sqliteNetLog(getDb()),
    store: () => {
      if (store !== undefined) return store;
      const p = getPaths();
      if (!existsSync(p.db)) throw notInitialised(p);
      const { key, source } = loadMasterKey(p, env);
      // After `masterkey rotate` in another process, a long-running command (serve) takes the
      // new key from the key file, or from the pending file while the rotation is finishing.
      const reloadKey = (): Buffer[] =>
        source === 'file' ? [loadMasterKey(p, env).key, readPendingKey(pendingKeyPath(p.masterKey))].filter((k): k is Buffer => k !== undefined) : [];
      store = new SqliteStore(getDb(), key, { tenant: tenantName(), reloadKey });
      return store;
    },
    tenant: () => (tenant ??= requireTenant(getDb(), tenantName())),
    caPem: () => {
      const p = getPaths();
      try {
        return readFileSync(p.caCert, 'utf8');
      } catch {
        throw notInitialised(p);
      }
    },
    actor: () => `cli:${currentUser()}`,
    close: () => {
      // The store owns the connection when there is one; closing it closes the database.
      if (store !== undefined) store.close();
      else if (db?.open === true) db.close();
      store = undefined;
      db = undefined;
      tenant = undefined;
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
