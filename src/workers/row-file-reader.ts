import { closeSync, existsSync, openSync, readdirSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { NetLogRow } from '../netlog/types.js';
import { asRow, ROW_FILE_PATTERN, rowFileName } from './row-file.js';

interface Tail {
  generation: number;
  fd: number | undefined;
  offset: number;
  /** Bytes after the last newline read: a line the worker is still writing (or was cut by its death). */
  partial: Buffer;
  /** Rows of forwarded exchanges read, whose final row has not been read yet. */
  open: Map<string, NetLogRow>;
}

const CHUNK = 256 * 1024;

/**
 * The primary's side of the workers' row files (row-file.ts): reads each worker's new lines, in
 * the order they were written, deletes a file once it is read and the worker has moved on, and
 * when a worker is gone, closes the rows of the exchanges it never saw end (they were forwarded:
 * the row keeps the credentials used and says the worker exited).
 */
export class RowFileReader {
  readonly #dir: string;
  readonly #clock: () => number;
  readonly #tails = new Map<number, Tail>();
  readonly #buf = Buffer.allocUnsafe(CHUNK);
  /** Lines that did not parse (a cut last line of a killed worker, or a damaged file). */
  skipped = 0;

  constructor(dir: string, clock: () => number = Date.now) {
    this.#dir = dir;
    this.#clock = clock;
  }

  /** The rows worker `pid` wrote since the last read. */
  read(pid: number): NetLogRow[] {
    const tail = this.#tail(pid);
    const rows: NetLogRow[] = [];
    for (;;) {
      this.#drain(pid, tail, rows);
      // Generation N+1 exists only once the worker closed N: read N to its end once more, then move on.
      if (!existsSync(this.#path(pid, tail.generation + 1))) return rows;
      this.#drain(pid, tail, rows);
      this.#closeFile(pid, tail);
      tail.generation += 1;
      tail.offset = 0;
      tail.partial = Buffer.alloc(0);
    }
  }

  /** A worker has exited: its last rows, then a closing row for each exchange it left open. */
  finish(pid: number): NetLogRow[] {
    const rows = this.read(pid);
    const tail = this.#tail(pid);
    if (tail.partial.length > 0) this.skipped += 1;
    this.#closeFile(pid, tail);
    this.#tails.delete(pid);
    const now = this.#clock();
    for (const row of tail.open.values()) {
      rows.push({ ...row, complete: true, errorCode: 'GW_WORKER_EXITED', durationMs: Math.max(0, Math.round(now - row.at)) });
    }
    return rows;
  }

  /**
   * Workers with files here that no longer run: left by a gateway that stopped without reading
   * them (killed with its workers). A running process's files are left alone.
   */
  leftovers(): number[] {
    const pids = new Set<number>();
    for (const name of this.#names()) {
      const m = ROW_FILE_PATTERN.exec(name);
      if (m !== null && !running(Number(m[1]))) pids.add(Number(m[1]));
    }
    return [...pids];
  }

  #drain(pid: number, tail: Tail, rows: NetLogRow[]): void {
    if (tail.fd === undefined) {
      const path = this.#path(pid, tail.generation);
      if (!existsSync(path)) return;
      tail.fd = openSync(path, 'r');
    }
    for (;;) {
      const n = readSync(tail.fd, this.#buf, 0, CHUNK, tail.offset);
      if (n === 0) return;
      tail.offset += n;
      const chunk = tail.partial.length > 0 ? Buffer.concat([tail.partial, this.#buf.subarray(0, n)]) : this.#buf.subarray(0, n);
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        this.#take(tail, chunk.toString('utf8', start, nl), rows);
        start = nl + 1;
      }
      // Copied: the read buffer is reused on the next read.
      tail.partial = Buffer.from(chunk.subarray(start));
    }
  }

  #take(tail: Tail, line: string, rows: NetLogRow[]): void {
    const row = asRow(line);
    if (row === undefined) {
      this.skipped += 1;
      return;
    }
    if (row.complete === false) tail.open.set(row.requestId, row);
    else tail.open.delete(row.requestId);
    rows.push(row);
  }

  #closeFile(pid: number, tail: Tail): void {
    if (tail.fd !== undefined) closeSync(tail.fd);
    tail.fd = undefined;
    const path = this.#path(pid, tail.generation);
    if (existsSync(path)) unlinkSync(path);
  }

  #tail(pid: number): Tail {
    let tail = this.#tails.get(pid);
    if (tail === undefined) {
      tail = { generation: this.#firstGeneration(pid), fd: undefined, offset: 0, partial: Buffer.alloc(0), open: new Map() };
      this.#tails.set(pid, tail);
    }
    return tail;
  }

  // A worker's files start at generation 0; leftovers may start later (earlier ones were read).
  #firstGeneration(pid: number): number {
    let first: number | undefined;
    for (const name of this.#names()) {
      const m = ROW_FILE_PATTERN.exec(name);
      if (m !== null && Number(m[1]) === pid) first = Math.min(first ?? Infinity, Number(m[2]));
    }
    return first ?? 0;
  }

  #names(): string[] {
    return existsSync(this.#dir) ? readdirSync(this.#dir) : [];
  }

  #path(pid: number, generation: number): string {
    return join(this.#dir, rowFileName(pid, generation));
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
