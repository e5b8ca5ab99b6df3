import type { Db } from '../store/database.js';
import type { DatabaseChoice } from '../store/database-url.js';
import { createNetLogWriter } from '../netlog/writer.js';

/**
 * The network log `serve` writes to, chosen by the database choice. SEAM (issue 16): the
 * PostgreSQL network log (batched writer, on-disk spool, gateway id per row) is built on the
 * network-log side; until it is connected here, every gateway writes its rows to the SQLite file
 * in its own home, whatever `--database` says.
 */
export function openServeNetLog(choice: DatabaseChoice, homeDb: Db, onError: (err: unknown) => void): ReturnType<typeof createNetLogWriter> {
  void choice;
  return createNetLogWriter(homeDb, { onError });
}
