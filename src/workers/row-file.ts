import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { NetLogRow, NetLogWriter } from '../netlog/types.js';

/** Set in a worker's environment by the primary: the directory its row files go to. */
export const ROWS_DIR_ENV = 'STANDIN_WORKER_ROWS_DIR';

// A file is closed and the next one started past this size, so that the primary can delete what
// it has read while the worker keeps writing.
export const ROTATE_BYTES = 8 * 1024 * 1024;

// After a failed write (a full disk), the next attempt.
const RETRY_MS = 200;

/** `rows-<pid>-<generation>.jsonl`: the primary finds a worker's files by its pid, in order. */
export function rowFileName(pid: number, generation: number): string {
  return `rows-${pid}-${String(generation).padStart(6, '0')}.jsonl`;
}

export const ROW_FILE_PATTERN = /^rows-(\d+)-(\d{6})\.jsonl$/;

/**
 * A worker's network log: rows are appended to a file of this worker's, one JSON line each; the
 * primary (the log's one writer) reads the files on a timer (row-file-reader.ts).
 *
 * Why a file and not the IPC channel: each IPC message wakes the primary, and on a small machine
 * that context switch cost more than the rest of a small request's relay. A write to a file wakes
 * no one. And it is safer: once written, a row is in the kernel's page cache, whatever happens to
 * this process or the primary. The row of a forwarded request is written at the end of the tick
 * that recorded it, so it is out of this process before the request's bytes are (forward()
 * records it before opening the upstream request, which node:http writes in a later tick); a
 * worker killed after that leaves it for the primary to read, close and write. Finished rows wait
 * for the end of the event-loop iteration, so that one write(2) carries all of them: a worker
 * killed within it loses those (their forwarded rows stay, and the primary closes them).
 */
export function createRowFileLog(dir: string, pid: number = process.pid, onError: (e: unknown) => void = () => undefined): NetLogWriter {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let generation = 0;
  let written = 0;
  let fd: number | undefined;
  // Rows recorded in this turn (forwarded) or this loop iteration (finished), written together;
  // `carry` is what a failed write left (the rest of a line included), written first next time.
  let pending = '';
  let carry: Buffer | undefined;
  let tick = false;
  let immediate: NodeJS.Immediate | undefined;
  let retry: NodeJS.Timeout | undefined;
  const open = (): number => {
    fd = openSync(join(dir, rowFileName(pid, generation)), 'a', 0o600);
    return fd;
  };
  const closeFile = (): void => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  const write = (): void => {
    tick = false;
    if (immediate !== undefined) clearImmediate(immediate);
    immediate = undefined;
    if (pending === '' && carry === undefined) return;
    const fresh = Buffer.from(pending);
    const buf = carry === undefined ? fresh : Buffer.concat([carry, fresh]);
    pending = '';
    carry = undefined;
    let off = 0;
    try {
      const out = fd ?? open();
      while (off < buf.length) off += writeSync(out, buf, off);
    } catch (e) {
      // A full disk (or a file gone bad): nothing is dropped, the file is opened afresh on the
      // retry, and until a write succeeds `accepting` says no, so no new exchange is forwarded
      // without a row that can be kept (forward() answers GW_LOG_UNAVAILABLE).
      carry = buf.subarray(off);
      closeFileQuietly();
      retry ??= setTimeout(() => {
        retry = undefined;
        write();
      }, RETRY_MS);
      onError(e);
      return;
    }
    written += off;
    if (written >= ROTATE_BYTES) {
      // The next file is created only once this one is closed: the reader takes the existence
      // of generation N+1 as the sign that N is whole.
      closeFile();
      generation += 1;
      written = 0;
      open();
    }
  };
  const closeFileQuietly = (): void => {
    try {
      closeFile();
    } catch {
      fd = undefined;
    }
  };
  return {
    record(row) {
      pending += `${JSON.stringify(row)}\n`;
      if (row.complete === false) {
        // Out before the request: node:http writes it in a later tick than this one's (forward()
        // records the row before opening the upstream request), and ticks run in order.
        if (!tick) {
          tick = true;
          process.nextTick(write);
        }
      } else immediate ??= setImmediate(write);
    },
    flush: write,
    pending: () => (pending === '' && carry === undefined ? 0 : 1),
    accepting: () => carry === undefined,
    close() {
      if (retry !== undefined) clearTimeout(retry);
      retry = undefined;
      write();
      closeFileQuietly();
    },
  };
}

/** What the reader keeps of a row it parsed: the rows a worker writes are `NetLogRow`s. */
export function asRow(line: string): NetLogRow | undefined {
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch {
    return undefined;
  }
  const o = r as Record<string, unknown> | null;
  // The writer binds these by name; a row from our own worker has them all (toNetLogRow built it).
  if (typeof o !== 'object' || o === null) return undefined;
  if (typeof o.requestId !== 'string' || typeof o.at !== 'number' || typeof o.method !== 'string' || typeof o.host !== 'string' || !Array.isArray(o.secrets)) return undefined;
  return o as unknown as NetLogRow;
}
