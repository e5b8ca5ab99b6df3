import pg from 'pg';
import type { NetLogBackend } from '../backend.js';
import { pgFinalRowsAfter, pgFollowNetLog } from './follow.js';
import { pgIterateNetLog, pgLastNetLogId, pgNetLogRecord, pgNetLogStats, pgQueryNetLog } from './query.js';
import { NetLogSpool } from './spool.js';
import { pgCheckRecordedHead, pgVerifyLog } from './verify.js';
import { createPgNetLogWriter, type PgNetLogWriterOptions } from './writer.js';

export interface PgNetLogOptions {
  /** Defaults of every writer made by this backend (batch size, interval, retry). */
  writer?: Omit<PgNetLogWriterOptions, 'gatewayId' | 'onError' | 'spool'>;
  /**
   * Where each writer spools rows while the database is away (the home's `spool/`; one gateway
   * process per directory), and the bound in bytes (default 1 GiB). Without it rows wait in memory.
   */
  spool?: { dir: string; maxBytes?: number };
}

/**
 * The network log in PostgreSQL, shared by a fleet of gateways: the seam fleet mode wires to
 * `--database`. Given a pool, it uses it and leaves it open; given a connection string, it opens
 * its own pool and `close` ends it. The tables must exist (migrateNetLogPg, schema.ts).
 */
export function pgNetLog(database: pg.Pool | string, options: PgNetLogOptions = {}): NetLogBackend & { readonly pool: pg.Pool } {
  const own = typeof database === 'string';
  const pool = own ? new pg.Pool({ connectionString: database, max: 4, connectionTimeoutMillis: 5_000 }) : database;
  if (own) {
    // An idle client whose server went away must not crash the process ('error' unhandled).
    pool.on('error', () => undefined);
  }
  return {
    kind: 'postgres',
    pool,
    // Polling by id (the API, the viewer) sees a row only once no smaller id can still appear.
    query: (q) => (q.afterId === undefined ? pgQueryNetLog(pool, q) : pgFinalRowsAfter(pool, { ...q, afterId: q.afterId })),
    iterate: (q) => pgIterateNetLog(pool, q),
    lastId: () => pgLastNetLogId(pool),
    follow: (q, afterId) => pgFollowNetLog(pool, q, afterId),
    stats: (q) => pgNetLogStats(pool, q),
    record: (requestId, tenant) => pgNetLogRecord(pool, requestId, tenant),
    verify: () => pgVerifyLog(pool),
    checkHead: (head, report) => pgCheckRecordedHead(pool, head, report),
    createWriter: ({ spoolMaxBytes, ...o }) =>
      createPgNetLogWriter(pool, {
        ...options.writer,
        ...o,
        ...(options.spool === undefined ? {} : { spool: new NetLogSpool(options.spool.dir, { maxBytes: spoolMaxBytes ?? options.spool.maxBytes }) }),
      }),
    close: async () => {
      if (own) await pool.end();
    },
  };
}
