import type { Db } from '../store/database.js';
import type { NetLogBackend } from './backend.js';
import { getNetLogRecord, iterateNetLog, lastNetLogId, queryNetLog } from './query.js';
import { netLogStats } from './stats.js';
import { checkRecordedHead, verifyLog } from './verify.js';
import { createNetLogWriter, type NetLogWriterOptions } from './writer.js';

/**
 * The network log in the home's SQLite database behind the backend interface. Reads run
 * synchronously on the caller's connection (better-sqlite3) and resolve at once; the database
 * belongs to the caller, so `close` leaves it open.
 */
export function sqliteNetLog(db: Db, writerDefaults: Omit<NetLogWriterOptions, 'gatewayId' | 'onError'> = {}): NetLogBackend {
  return {
    kind: 'sqlite',
    query: async (q) => queryNetLog(db, q),
    async *iterate(q) {
      yield* iterateNetLog(db, q);
    },
    lastId: async () => lastNetLogId(db),
    // One writer at a time (the database's write lock) assigns ids inside its transaction: they
    // commit in id order, so the rows after the last one seen are all there is.
    follow: (q, from) => {
      let afterId = from;
      return {
        next: async () => {
          const rows = queryNetLog(db, { ...q, afterId });
          afterId = rows.at(-1)?.id ?? afterId;
          return rows;
        },
      };
    },
    stats: async (q) => netLogStats(db, q),
    record: async (requestId, tenant) => getNetLogRecord(db, requestId, tenant),
    verify: async () => verifyLog(db),
    checkHead: async (head, report) => checkRecordedHead(db, head, report),
    createWriter: (o) => createNetLogWriter(db, { ...writerDefaults, ...o }),
    close: async () => undefined,
  };
}
