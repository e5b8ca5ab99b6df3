import type { NetLogRow, NetLogWriter } from '../netlog/types.js';

/**
 * A worker's network log: rows go to the primary, the single writer of the log and its chain.
 * The row written when a request is forwarded is sent at once, before the request leaves (its
 * bytes are in the IPC pipe when `send` returns, so a worker killed mid-exchange still leaves
 * the row naming the credentials it sent); other rows are sent in one message per turn of the
 * event loop. `send` is the IPC channel's (structured clone, in order).
 */
export function createIpcNetLog(send: (rows: NetLogRow[]) => void): NetLogWriter {
  let queue: NetLogRow[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const sendQueued = (): void => {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    if (queue.length === 0) return;
    const rows = queue;
    queue = [];
    send(rows);
  };
  return {
    record(row) {
      queue.push(row);
      if (row.complete === false) sendQueued();
      else scheduled ??= setImmediate(sendQueued);
    },
    flush: sendQueued,
    pending: () => queue.length,
    close: sendQueued,
  };
}
