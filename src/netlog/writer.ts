import type { Db } from '../store/database.js';
import type { NetLogRow, NetLogWriter } from './types.js';
import { chainCanonical, CHAINED_PARAMS, chainHead, rowHash } from './chain.js';
/** Rows written by a writer not told its gateway (tests, embedded use). */
export const DEFAULT_GATEWAY_ID = 'local';
import { createLogPruner, DEFAULT_RETENTION, type RetentionPolicy } from './retention.js';

export interface NetLogWriterOptions {
  /** The gateway every row is written as, whose chain this writer extends (gateway-id.ts). */
  gatewayId?: string;
  /** Rows per transaction; reaching it schedules a write on the next turn of the event loop. */
  batchSize?: number;
  /** Longest a queued row waits before it is written. */
  intervalMs?: number;
  /** Queue bound: at this size `record` writes synchronously instead of queueing further. */
  maxQueue?: number;
  /** Background write failures (the rows stay queued and are retried). */
  onError?: (e: unknown) => void;
  /** Bounds on the table, applied after every `pruneEvery` rows written. */
  retention?: RetentionPolicy;
  pruneEvery?: number;
  /** Rows deleted per pruning transaction (retention.ts PRUNE_CHUNK). */
  pruneChunk?: number;
  clock?: () => number;
}

const DEFAULTS = { batchSize: 500, intervalMs: 50, maxQueue: 100_000 };

// One row per request id: the row of a forwarded request is completed in place when it ends, and
// sealed into the chain then (chain.ts); a sealed row is never written again.
const INSERT = `INSERT INTO network_log
  (gateway, request_id, at, tenant, sandbox, method, scheme, host, port, path, status, decision, secrets,
   bytes_in, bytes_out, duration_ms, upstream_ip, error_code, complete, detail, chain_seq, hash)
  VALUES (@gateway, @requestId, @at, @tenant, @sandbox, @method, @scheme, @host, @port, @path, @status, @decision, @secrets,
   @bytesIn, @bytesOut, @durationMs, @upstreamIp, @errorCode, @complete, @detail, @chainSeq, @hash)
  ON CONFLICT (request_id) DO UPDATE SET
   at = excluded.at, tenant = excluded.tenant, sandbox = excluded.sandbox, method = excluded.method,
   scheme = excluded.scheme, host = excluded.host, port = excluded.port, path = excluded.path,
   status = excluded.status, decision = excluded.decision, secrets = excluded.secrets, bytes_in = excluded.bytes_in,
   bytes_out = excluded.bytes_out, duration_ms = excluded.duration_ms, upstream_ip = excluded.upstream_ip,
   error_code = excluded.error_code, complete = excluded.complete, detail = excluded.detail,
   chain_seq = excluded.chain_seq, hash = excluded.hash
  WHERE network_log.complete = 0`;

/**
 * Batches network-log rows so that the request path never waits on disk: `record` only pushes to
 * an in-memory queue, and rows are written in one transaction per batch, on a short timer or as
 * soon as a batch is full. A row is never dropped to save memory: when the queue is at its bound
 * (the disk cannot keep up), `record` pays for one synchronous write instead.
 */
export function createNetLogWriter(db: Db, options: NetLogWriterOptions = {}): NetLogWriter {
  const batchSize = Math.max(1, options.batchSize ?? DEFAULTS.batchSize);
  const intervalMs = Math.max(0, options.intervalMs ?? DEFAULTS.intervalMs);
  const maxQueue = Math.max(batchSize, options.maxQueue ?? DEFAULTS.maxQueue);
  const onError = options.onError ?? ((): void => undefined);
  const gateway = options.gatewayId ?? DEFAULT_GATEWAY_ID;
  const insert = db.prepare(INSERT);
  const prune = createLogPruner(db, options.retention ?? DEFAULT_RETENTION, options.clock, options.pruneChunk);
  const pruneEvery = Math.max(1, options.pruneEvery ?? 10_000);
  let sincePrune = 0;
  const insertAll = db.transaction((rows: readonly NetLogRow[]) => {
    let head = chainHead(db, gateway);
    for (const row of rows) {
      const params = toParams(row);
      params.gateway = gateway;
      const sealed = row.complete !== false;
      if (sealed) {
        params.chainSeq = head.seq + 1;
        params.hash = rowHash(head.hash, chainCanonical(CHAINED_PARAMS.map((k) => params[k] ?? null), gateway));
      }
      // No change: the row was already sealed (it is never rewritten), so the head stays put.
      if (insert.run(params).changes > 0 && sealed) head = { seq: head.seq + 1, hash: String(params.hash) };
    }
    sincePrune += rows.length;
  });
  // Pruning runs in chunks of its own transactions, after the batch, so that deleting many rows
  // never holds one long write lock: between chunks the event loop (the proxy) runs.
  let pruning: NodeJS.Immediate | undefined;
  const pruneChunk = (): void => {
    pruning = undefined;
    try {
      if (prune() && !closed) pruning = setImmediate(pruneChunk);
    } catch (e) {
      onError(e);
    }
  };
  const maybePrune = (): void => {
    if (sincePrune < pruneEvery || pruning !== undefined) return;
    sincePrune = 0;
    pruneChunk();
  };

  let queue: NetLogRow[] = [];
  // Queued rows of forwarded requests not yet ended, by request id: when the exchange ends before
  // its first row was written (most requests), the final row takes that row's place in the queue
  // and the exchange costs one insert, not an insert and an update.
  let openRows = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let closed = false;

  // Takes the whole queue and writes it; on failure the rows go back to the front, in order, so a
  // briefly locked database (another process writing) costs a retry, not a gap in the log.
  const writeQueued = (): void => {
    if (queue.length === 0) return;
    const rows = queue;
    queue = [];
    openRows = new Map();
    try {
      insertAll(rows);
    } catch (e) {
      queue = rows.concat(queue);
      throw e;
    }
    maybePrune();
  };

  const writeInBackground = (): void => {
    cancelScheduled();
    try {
      writeQueued();
    } catch (e) {
      onError(e);
    }
    if (queue.length > 0 && !closed) scheduleTimer();
  };

  const scheduleTimer = (): void => {
    if (timer !== undefined || immediate !== undefined) return;
    // unref: a pending log write must not keep a finished process alive; close() flushes anyway.
    timer = setTimeout(writeInBackground, intervalMs).unref();
  };

  const cancelScheduled = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
  };

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
      if (closed || queue.length >= maxQueue) {
        // Past close there is no timer left to write it; at the bound, memory is worth more than
        // the caller's few milliseconds. Either way the row reaches disk now.
        writeInBackground();
        return;
      }
      if (queue.length >= batchSize) {
        if (immediate === undefined) {
          if (timer !== undefined) clearTimeout(timer);
          timer = undefined;
          immediate = setImmediate(writeInBackground);
        }
        return;
      }
      scheduleTimer();
    },
    flush(): void {
      cancelScheduled();
      writeQueued();
    },
    pending(): number {
      return queue.length;
    },
    close(): void {
      closed = true;
      cancelScheduled();
      if (pruning !== undefined) clearImmediate(pruning);
      pruning = undefined;
      writeQueued();
    },
  };
}

export type Params = Record<string, string | number | null>;

/** A row as bound to the INSERT (both backends): the values its hash is computed from. */
export function toParams(row: NetLogRow): Params {
  return {
    gateway: '',
    requestId: row.requestId,
    at: Math.round(row.at),
    tenant: row.tenant ?? null,
    sandbox: row.sandbox,
    method: row.method,
    scheme: row.scheme,
    host: row.host,
    port: row.port,
    path: row.path,
    status: row.status,
    decision: row.decision,
    secrets: JSON.stringify(row.secrets),
    bytesIn: row.bytesIn,
    bytesOut: row.bytesOut,
    durationMs: Math.round(row.durationMs),
    upstreamIp: row.upstreamIp,
    errorCode: row.errorCode,
    complete: row.complete === false ? 0 : 1,
    detail: row.detail === undefined ? null : JSON.stringify(row.detail),
    chainSeq: null,
    hash: null,
  };
}
