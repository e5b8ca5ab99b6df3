import type { NetLogRow, NetLogWriter } from '../netlog/types.js';

// Finished rows wait at most this long for a message to ride on (usually the next forwarded row's).
const FINISHED_ROWS_MS = 10;
const MAX_BATCH = 256;

/**
 * A worker's network log: rows go to the primary, the single writer of the log and its chain.
 * Each IPC message wakes the primary (on a small machine, a context switch per message), so rows
 * travel in batches, with one rule that matters after a crash: the row written when a request is
 * forwarded leaves in the same tick, before the request does (forward() records it before opening
 * the upstream request, whose bytes node:http writes in a later tick), so a worker killed
 * mid-exchange still leaves the row naming the credentials it sent (when the pipe has room: a
 * primary more than a pipe buffer behind leaves the message queued in this process). Finished rows go with the next
 * such message or after FINISHED_ROWS_MS; a worker killed in that window loses them, as a single
 * process loses the rows it had not yet written (a forwarded exchange keeps its incomplete row).
 * `send` is the IPC channel's (structured clone, in order).
 */
export function createIpcNetLog(send: (rows: NetLogRow[]) => void): NetLogWriter {
  let queue: NetLogRow[] = [];
  let tick = false;
  let timer: NodeJS.Timeout | undefined;
  const sendQueued = (): void => {
    tick = false;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    const rows = queue;
    queue = [];
    send(rows);
  };
  return {
    record(row) {
      queue.push(row);
      if (row.complete === false || queue.length >= MAX_BATCH) {
        if (!tick) {
          tick = true;
          process.nextTick(sendQueued);
        }
      } else timer ??= setTimeout(sendQueued, FINISHED_ROWS_MS).unref();
    },
    flush: sendQueued,
    pending: () => queue.length,
    close: sendQueued,
  };
}
