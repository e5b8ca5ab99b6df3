// Live count of network-log rows, read straight from the gateway's SQLite file (read-only, WAL
// readers never block the writer). Used only to measure how fast rows are written while under
// load; the "no row lost" check goes through the CLI (`standin log --json`) after shutdown.
import { createRequire } from 'node:module';

export function openRowCounter(repoRoot, dbPath) {
  try {
    const require = createRequire(`${repoRoot}/package.json`);
    const Database = require('better-sqlite3');
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const stmt = db.prepare('SELECT count(*) AS n FROM network_log');
    return { count: () => stmt.get().n, close: () => db.close() };
  } catch (e) {
    process.stderr.write(`bench: cannot read ${dbPath} directly (${e.message}); rows/s not measured\n`);
    return undefined;
  }
}
