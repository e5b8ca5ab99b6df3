import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { NetLogRow, NetLogWriter } from '../netlog/types.js';

/** Set in a worker's environment by the primary: the directory its row files go to. */
export const ROWS_DIR_ENV = 'STANDIN_WORKER_ROWS_DIR';

// A file is closed and the next one started past this size, so that the primary can delete what
// it has read while the worker keeps writing.
export const ROTATE_BYTES = 8 * 1024 * 1024;

/** `rows-<pid>-<generation>.jsonl`: the primary finds a worker's files by its pid, in order. */
export function rowFileName(pid: number, generation: number): string {
  return `rows-${pid}-${String(generation).padStart(6, '0')}.jsonl`;
}

export const ROW_FILE_PATTERN = /^rows-(\d+)-(\d{6})\.jsonl$/;

/**
 * A worker's network log: every row is appended to a file of this worker's, one JSON line each,
 * with one write(2) in the call itself; the primary (the log's one writer) reads the files on a
 * timer (row-file-reader.ts).
 *
 * Why a file and not the IPC channel: each IPC message wakes the primary, and on a small machine
 * that context switch cost more than the rest of a small request's relay. A write to a file wakes
 * no one. And it is safer: a row is in the kernel's page cache the moment `record` returns, so the
 * row of a forwarded request is out of this process before the request's bytes are (forward()
 * records it before opening the upstream request), and a worker killed at any point after leaves
 * it for the primary to read, close and write — whatever the primary was doing at the time.
 */
export function createRowFileLog(dir: string, pid: number = process.pid): NetLogWriter {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let generation = 0;
  let written = 0;
  let fd: number | undefined;
  const open = (): number => {
    fd = openSync(join(dir, rowFileName(pid, generation)), 'a', 0o600);
    return fd;
  };
  const closeFile = (): void => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  return {
    record(row) {
      const line = `${JSON.stringify(row)}\n`;
      written += writeSync(fd ?? open(), line);
      if (written >= ROTATE_BYTES) {
        // The next file is created only once this one is closed: the reader takes the existence
        // of generation N+1 as the sign that N is whole.
        closeFile();
        generation += 1;
        written = 0;
        open();
      }
    },
    flush: () => undefined,
    pending: () => 0,
    close: closeFile,
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
