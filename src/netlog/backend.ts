import type { NetLogStats } from './stats.js';
import type { NetLogQuery, NetLogRecord, NetLogWriter, StoredNetLogRow } from './types.js';
import type { LogVerifyReport, RecordedHead } from './verify-walk.js';

/**
 * What reads the network log (CLI `log` commands, the control API, the viewer), whatever holds
 * it: SQLite in the home (sqlite-backend.ts) or PostgreSQL shared by a fleet (pg/backend.ts).
 * Every read is async so that both fit one shape; none of them is on the request path.
 */
export interface NetLogReader {
  /** Newest `limit` rows oldest first, or with `afterId` the rows after it (filters.ts). */
  query(q: NetLogQuery): Promise<StoredNetLogRow[]>;
  /** Every matching row, oldest first, a page at a time (`limit` ignored). */
  iterate(q: NetLogQuery): AsyncIterable<StoredNetLogRow>;
  /** The largest row id (0 when empty): where `--follow` starts. */
  lastId(): Promise<number>;
  /**
   * New rows after `afterId` as they become final, in id order, each once (`log --follow`): a row
   * is returned only when no row with a smaller id can still appear (PostgreSQL: one committing
   * late behind a higher id; follow.ts). `q.limit` rows per `next()` at most.
   */
  follow(q: NetLogQuery, afterId: number): NetLogFollower;
  stats(q: NetLogQuery): Promise<NetLogStats>;
  /** One row by request id with what `log explain` reads; tenant-bound when a tenant is given. */
  record(requestId: string, tenant?: string): Promise<NetLogRecord | undefined>;
  /** Walks every gateway's chain. */
  verify(): Promise<LogVerifyReport>;
  /** Checks a head printed by an earlier verify; undefined when it still holds. */
  checkHead(head: RecordedHead, report: LogVerifyReport): Promise<string | undefined>;
}

export interface NetLogFollower {
  next(): Promise<StoredNetLogRow[]>;
}

export interface NetLogBackendWriterOptions {
  /** The id every row this writer writes carries, and whose chain it extends. */
  gatewayId: string;
  onError?: (e: unknown) => void;
  /** PostgreSQL: the bound of this writer's on-disk spool in bytes (default 1 GiB); SQLite has none. */
  spoolMaxBytes?: number;
}

/** A reader that can also make the gateway's writer; `close` ends what the backend opened itself. */
export interface NetLogBackend extends NetLogReader {
  readonly kind: 'sqlite' | 'postgres';
  createWriter(options: NetLogBackendWriterOptions): NetLogWriter;
  close(): Promise<void>;
}
