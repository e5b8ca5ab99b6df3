import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDatabaseChoice } from '../../src/store/database-url.js';
import { openDatabase } from '../../src/store/database.js';
import { openPgStore } from '../../src/store/pg/open-pg.js';
import { SqliteAsyncStore } from '../../src/store/sqlite-async-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { AsyncStore } from '../../src/store/store-api.js';
import { startPostgres, type PgCluster } from './postgres.js';

/**
 * The two backends the shared suites run against: SQLite in a temporary home, PostgreSQL in a
 * fresh database of this file's throwaway cluster. `env` is what a CLI process needs to use the
 * same store (STANDIN_HOME, and STANDIN_DATABASE_URL for PostgreSQL).
 */
export interface BackendUnderTest {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty store; `url` is undefined for SQLite. */
  fresh(options?: { clock?: () => number; key?: Buffer }): Promise<{ store: AsyncStore; home: string; url: string | undefined; key: Buffer }>;
  /** Called once per file. */
  setup(): Promise<void>;
  teardown(): void;
  cluster(): PgCluster | undefined;
}

export function backends(): BackendUnderTest[] {
  const homes: string[] = [];
  const tempHome = (): string => {
    const h = mkdtempSync(join(tmpdir(), 'standin-backend-'));
    homes.push(h);
    return h;
  };
  let pg: PgCluster | undefined;
  const sqlite: BackendUnderTest = {
    name: 'sqlite',
    setup: async () => undefined,
    teardown: () => {
      for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
    },
    cluster: () => undefined,
    fresh: async (o = {}) => {
      const home = tempHome();
      const key = o.key ?? randomBytes(32);
      const db = openDatabase(join(home, 'standin.db'));
      const clock = o.clock ?? Date.now;
      return { store: new SqliteAsyncStore(new SqliteStore(db, key, { clock }), db, clock), home, url: undefined, key };
    },
  };
  const postgres: BackendUnderTest = {
    name: 'postgres',
    setup: async () => {
      pg = await startPostgres();
    },
    teardown: () => {
      pg?.destroy();
      for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
    },
    cluster: () => pg,
    fresh: async (o = {}) => {
      if (pg === undefined) throw new Error('postgres backend not set up');
      const url = pg.createDatabase();
      const key = o.key ?? randomBytes(32);
      const choice = parseDatabaseChoice(url);
      if (choice.kind !== 'postgres') throw new Error('not a postgres url');
      const store = await openPgStore(choice, key, o.clock === undefined ? {} : { clock: o.clock });
      return { store, home: tempHome(), url, key };
    },
  };
  return [sqlite, postgres];
}
