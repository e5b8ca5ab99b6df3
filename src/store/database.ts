import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import { RuntimeError } from '../errors.js';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './schema.js';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the standin database and brings its schema up to date. The CLI and a
 * running gateway open the same file at once; WAL lets the gateway keep reading while the CLI
 * writes, and busy_timeout makes the rare write/write overlap wait instead of failing.
 */
export function openDatabase(file: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  createPrivateFile(file);
  let db: Db;
  try {
    db = new Database(file);
  } catch (e) {
    throw new RuntimeError(`cannot open database ${file}: ${describe(e)}`);
  }
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, file, migrations);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof RuntimeError) throw e;
    throw new RuntimeError(`cannot open database ${file}: ${describe(e)}`);
  }
}

/** Applies every migration above the database's user_version, each in its own transaction. */
export function migrate(db: Db, file: string, migrations: readonly Migration[] = MIGRATIONS): void {
  const known = migrations.length === 0 ? 0 : Math.max(...migrations.map((m) => m.version));
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (userVersion(db) >= m.version) continue;
    // The pragma is a no-op inside a transaction, so it is switched around it.
    if (m.rebuildsTables === true) db.pragma('foreign_keys = OFF');
    try {
      // IMMEDIATE takes the write lock before reading user_version, so two processes opening a
      // fresh file at once cannot both apply the same migration.
      db.transaction(() => {
        const current = userVersion(db);
        if (current > known) throw tooNew(file, current, known);
        if (current >= m.version) return;
        db.exec(m.sql);
        if (m.rebuildsTables === true && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new RuntimeError(`database ${file}: migration ${m.version} would break references; nothing was changed`);
        }
        db.pragma(`user_version = ${m.version}`);
      }).immediate();
    } finally {
      if (m.rebuildsTables === true) db.pragma('foreign_keys = ON');
    }
  }
  const final = userVersion(db);
  if (final > known) throw tooNew(file, final, known);
}

export function userVersion(db: Db): number {
  const v = db.pragma('user_version', { simple: true });
  return typeof v === 'number' ? v : 0;
}

export { SCHEMA_VERSION };

// SQLite creates a new database file with the umask's mode (often 0644); it holds ciphertexts and
// key hashes, so create it 0600 ourselves first. SQLite gives the -wal/-shm files the same mode.
function createPrivateFile(file: string): void {
  if (file === ':memory:' || file === '') return;
  try {
    fs.closeSync(fs.openSync(file, 'wx', 0o600));
  } catch (e) {
    if (errno(e) === 'EEXIST') return;
    throw new RuntimeError(`cannot create database ${file}: ${errno(e) ?? 'unknown error'}`);
  }
}

function tooNew(file: string, found: number, known: number): RuntimeError {
  return new RuntimeError(
    `database ${file} has schema version ${found}, newer than this standin understands (${known}): upgrade standin`,
  );
}

function errno(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

// better-sqlite3 messages are SQLite's own ("file is not a database"): safe, and useful to print.
function describe(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] ?? 'unknown error' : 'unknown error';
}
