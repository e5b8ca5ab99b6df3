import type { DatabaseChoice } from '../database-url.js';
import { PgDb } from './pg-db.js';
import { PgStore, type PgStoreOptions } from './pg-store.js';
import { migratePg } from './schema.js';
import { migrateNetLogPg } from '../../netlog/pg/schema.js';

/**
 * Opens a PostgreSQL database for standin: connects, brings the schema up to date (safe when
 * several processes do it at once), and opens the store as the given tenant.
 */
export async function openPgDatabase(choice: Extract<DatabaseChoice, { kind: 'postgres' }>, options: { max?: number } = {}): Promise<PgDb> {
  const db = new PgDb(choice.url, { display: choice.display, ...(options.max !== undefined ? { max: options.max } : {}) });
  try {
    await migratePg(db);
    // The fleet's network log lives in the same database (netlog/pg/schema.ts), migrated with it.
    await migrateNetLogPg(db.pool);
    return db;
  } catch (e) {
    await db.end().catch(() => undefined);
    throw e;
  }
}

export async function openPgStore(choice: Extract<DatabaseChoice, { kind: 'postgres' }>, key: Buffer, options: PgStoreOptions = {}): Promise<PgStore> {
  const db = await openPgDatabase(choice);
  try {
    return await PgStore.open(db, key, options);
  } catch (e) {
    await db.end().catch(() => undefined);
    throw e;
  }
}
