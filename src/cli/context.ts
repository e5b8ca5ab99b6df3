import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { RuntimeError } from '../errors.js';
import { homePaths, loadMasterKey, resolveHome, type HomePaths } from '../config/home.js';
import { openDatabase, type Db } from '../store/database.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/types.js';

/**
 * What a command needs from the home, opened on first use: `providers` touches nothing, `log`
 * needs only the database, secrets and sandboxes need the master key too. Commands call
 * `close()` (main does it for them) so the database is closed before the process exits.
 */
export interface CliContext {
  paths(): HomePaths;
  /** The database alone (no master key): for reading the network log. */
  db(): Db;
  /** The store, on the same database connection. */
  store(): Store;
  /** PEM of the CA certificate. */
  caPem(): string;
  /** Who the audit log names as the actor of a change. */
  actor(): string;
  close(): void;
}

/** `homeFlag` is read when first needed, after commander has parsed the global `--home`. */
export function createContext(homeFlag: () => string | undefined, env: NodeJS.ProcessEnv = process.env): CliContext {
  let paths: HomePaths | undefined;
  let db: Db | undefined;
  let store: Store | undefined;

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
    store: () => {
      if (store !== undefined) return store;
      const p = getPaths();
      if (!existsSync(p.db)) throw notInitialised(p);
      const { key } = loadMasterKey(p, env);
      store = new SqliteStore(getDb(), key);
      return store;
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
    close: () => {
      // The store owns the connection when there is one; closing it closes the database.
      if (store !== undefined) store.close();
      else if (db?.open === true) db.close();
      store = undefined;
      db = undefined;
    },
  };
}

export function notInitialised(p: HomePaths): RuntimeError {
  return new RuntimeError(`standin is not initialised at ${p.home}: run \`standin init\``);
}

// userInfo() throws on a uid with no passwd entry (common in containers).
function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? 'unknown'}`;
  }
}
