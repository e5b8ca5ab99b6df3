import type { Pool } from 'pg';
import type { NetLogRow, NetLogWriter } from '../types.js';
import { DAY_MS, dropPartitionsBefore } from './partitions.js';
import type { NetLogSpool, SpoolStats } from './spool.js';
import { writePgBatch, type KnownDays } from './write-batch.js';

export interface PgNetLogWriterOptions {
  gatewayId: string;
  /** Rows per INSERT (one transaction). */
  batchSize?: number;
  /** Longest a queued row waits before it is written. */
  intervalMs?: number;
  /** Wait before writing again after a failure. */
  retryMs?: number;
  /** Background write failures (the rows are kept and written later). */
  onError?: (e: unknown) => void;
  /** Where rows go while the database is away (spool.ts); without one they wait in memory. */
  spool?: NetLogSpool;
  clock?: () => number;
  /** Rows older than this go, a day's partition at a time (default 30 days; 0: never). */
  maxAgeMs?: number;
  /** How often the writer drops partitions past `maxAgeMs` (default hourly, and at the first write). */
  retentionEveryMs?: number;
}

export interface PgNetLogWriter extends NetLogWriter {
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Rows written to the database so far (for tests and the benchmark). */
  written(): number;
  /** False while the spool is at its bound: the gateway refuses new exchanges. */
  accepting(): boolean;
  /** What the spool holds (metrics); zeros without one. */
  spooled(): SpoolStats;
}

const DEFAULTS = { batchSize: 1_000, intervalMs: 50, retryMs: 500, maxAgeMs: 30 * DAY_MS, retentionEveryMs: 3_600_000 };

/**
 * The network-log writer of a gateway on PostgreSQL. `record` is what the request path calls: it
 * pushes to an in-memory queue and returns. One batch at a time is written (write-batch.ts); while
 * it is in flight, the next rows queue up and are written `intervalMs` after it (at once when a
 * full batch waits), so a busy gateway writes at most one transaction per interval (or per full
 * batch) and an idle one writes within `intervalMs`. When a write fails, the rows go to the spool (spool.ts) on disk, and
 * every `retryMs` the writer tries to write the spool back, oldest first; without a spool they
 * wait at the front of the queue. Writing again is idempotent (request ids, write-batch.ts).
 */
export function createPgNetLogWriter(pool: Pool, options: PgNetLogWriterOptions): PgNetLogWriter {
  const gateway = options.gatewayId;
  const batchSize = Math.max(1, options.batchSize ?? DEFAULTS.batchSize);
  const intervalMs = Math.max(0, options.intervalMs ?? DEFAULTS.intervalMs);
  const retryMs = Math.max(0, options.retryMs ?? DEFAULTS.retryMs);
  const onError = options.onError ?? ((): void => undefined);
  const clock = options.clock ?? Date.now;
  const known: KnownDays = new Set();
  const spool = options.spool;
  const maxAgeMs = options.maxAgeMs ?? DEFAULTS.maxAgeMs;
  const retentionEveryMs = options.retentionEveryMs ?? DEFAULTS.retentionEveryMs;
  let retainedAt: number | undefined;
  // Retention runs between batches (never beside one of ours), a few statements per dropped day.
  const retain = async (): Promise<void> => {
    const now = clock();
    if (maxAgeMs <= 0 || (retainedAt !== undefined && now - retainedAt < retentionEveryMs)) return;
    retainedAt = now;
    try {
      await dropPartitionsBefore(pool, now - maxAgeMs, now);
    } catch (e) {
      onError(e);
    }
  };

  let queue: NetLogRow[] = [];
  // As in the SQLite writer: a forwarded row still queued is replaced by its final row.
  let openRows = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failedAt: number | undefined;
  let written = 0;
  let closed = false;

  const takeBatch = (): NetLogRow[] => {
    const batch = queue.slice(0, batchSize);
    queue = queue.slice(batch.length);
    openRows = new Map();
    queue.forEach((r, i) => {
      if (r.complete === false) openRows.set(r.requestId, i);
    });
    return batch;
  };

  // Puts the queued rows in the spool (behind what it holds already); false if even that failed.
  const spoolQueue = async (): Promise<boolean> => {
    if (spool === undefined || queue.length === 0) return true;
    const rows = queue;
    queue = [];
    openRows = new Map();
    try {
      await spool.append(rows);
      return true;
    } catch (e) {
      queue = rows.concat(queue);
      onError(e);
      return false;
    }
  };

  // `mayRepeat`: rows that may have been committed before (the spool, a retried batch).
  let retrying = false;
  const writeRows = async (rows: readonly NetLogRow[], mayRepeat: boolean): Promise<void> => {
    for (let i = 0; i < rows.length; i += batchSize) {
      written += await writePgBatch(pool, gateway, rows.slice(i, i + batchSize), known, clock(), { mayRepeat: mayRepeat || retrying });
    }
  };

  // Writes until the queue and the spool are empty, or the database fails (then the queue goes to
  // the spool). Never rejects. While the spool holds rows, new rows go behind them, so rows reach
  // the database in the order they were recorded.
  const drain = async (): Promise<boolean> => {
    for (;;) {
      if (spool !== undefined && !spool.empty()) {
        if (!(await spoolQueue())) return false;
        const chunk = await spool.oldest();
        if (chunk === undefined) continue;
        try {
          await writeRows(chunk.rows, true);
        } catch (e) {
          failedAt = clock();
          onError(e);
          return false;
        }
        await chunk.done();
        failedAt = undefined;
        continue;
      }
      if (queue.length === 0) return true;
      const batch = takeBatch();
      try {
        await writeRows(batch, false);
        failedAt = undefined;
        retrying = false;
        await retain();
        // The rows that came in meanwhile wait for the timer unless a full batch is there: on a
        // busy gateway, writing them back to back made a transaction (four round trips and a
        // commit, in this process and in PostgreSQL) per few rows.
        if (queue.length < batchSize) return true;
      } catch (e) {
        queue = batch.concat(queue);
        openRows = new Map();
        failedAt = clock();
        retrying = true;
        onError(e);
        await spoolQueue();
        return false;
      }
    }
  };

  const run = (): Promise<void> => {
    if (running !== undefined) return running;
    cancel();
    running = drain().then((ok) => {
      running = undefined;
      // A failure leaves rows in the spool or the queue: try again later, even with nothing new.
      if (closed) return;
      if (!ok) schedule(retryMs);
      else if (queue.length > 0) schedule(queue.length >= batchSize ? 0 : intervalMs);
    });
    return running;
  };

  const schedule = (delay: number): void => {
    if (timer !== undefined || running !== undefined) return;
    // unref: a pending write must not keep a finished process alive; close() writes anyway.
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, delay).unref();
  };

  const cancel = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  // Settles once every queued row is in the database or the spool.
  const flushAll = async (): Promise<void> => {
    for (;;) {
      await (running ?? run());
      if (queue.length === 0) return;
      if (failedAt !== undefined) throw new Error('network log: PostgreSQL write failed; rows are still queued');
    }
  };

  // Rows a previous run spooled are written back first.
  if (spool !== undefined && !spool.empty()) schedule(0);

  return {
    record(row: NetLogRow): void {
      const queued = openRows.get(row.requestId);
      if (queued !== undefined) {
        queue[queued] = row;
        if (row.complete !== false) openRows.delete(row.requestId);
        return;
      }
      if (row.complete === false) openRows.set(row.requestId, queue.length);
      queue.push(row);
      if (running !== undefined) return;
      if (failedAt !== undefined) {
        schedule(Math.max(0, failedAt + retryMs - clock()));
        return;
      }
      if (queue.length >= batchSize) {
        // A full batch does not wait for the interval's timer.
        cancel();
        schedule(0);
      } else schedule(intervalMs);
    },
    flush: flushAll,
    pending: () => queue.length,
    written: () => written,
    accepting: () => spool === undefined || !spool.full(),
    spooled: () => spool?.stats() ?? { rows: 0, bytes: 0, oldestAt: undefined },
    async close(): Promise<void> {
      closed = true;
      cancel();
      failedAt = undefined;
      await flushAll();
    },
  };
}
