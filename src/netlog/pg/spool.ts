import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetLogRow } from '../types.js';

/**
 * Where a gateway keeps network-log rows while PostgreSQL cannot take them: JSON lines in files
 * `spool/netlog-<ms>-<n>.jsonl` under the home, oldest first, written back in that order when
 * the database answers again. A file is removed only once every row in it is committed; a crash
 * in between replays the file, and the request ids make that harmless (write-batch.ts skips rows
 * already sealed).
 *
 * Durability: each appended batch is fsync'ed before the writer counts it as kept, so a spooled
 * row survives a crash or power loss; rows still in the writer's memory queue (at most its
 * interval, 50 ms by default) do not — as with the SQLite writer.
 *
 * Bound: `maxBytes` in total. At the bound `full()` is true and the gateway refuses new exchanges
 * (GW_LOG_UNAVAILABLE, 503) rather than forward requests it could not log; rows of exchanges
 * already under way stay in memory until the database is back (they are never dropped).
 */

export interface SpoolStats {
  rows: number;
  bytes: number;
  /** When the oldest spooled row was spooled (epoch ms); undefined when empty. */
  oldestAt: number | undefined;
}

interface SpoolFile {
  path: string;
  /** When its first row was spooled. */
  at: number;
  rows: number;
  bytes: number;
  /** No more appends: it is being written back. */
  sealed: boolean;
}

const NAME = /^netlog-(\d{13,15})-(\d+)\.jsonl$/;
export const DEFAULT_SPOOL_BYTES = 1024 ** 3;
// A file this large is closed and a new one started: replay reads a file at a time.
const FILE_BYTES = 4 * 1024 * 1024;

export class NetLogSpool {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #clock: () => number;
  #files: SpoolFile[] = [];
  #seq = 0;

  constructor(dir: string, options: { maxBytes?: number; clock?: () => number } = {}) {
    this.#dir = dir;
    this.#maxBytes = options.maxBytes ?? DEFAULT_SPOOL_BYTES;
    this.#clock = options.clock ?? Date.now;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // What a previous run left (a gateway restarted before the database came back).
    for (const name of readdirSync(dir).sort(byOrder)) {
      const m = NAME.exec(name);
      if (m === null) continue;
      const path = join(dir, name);
      const text = readFileSync(path, 'utf8');
      this.#files.push({ path, at: Number(m[1]), rows: lines(text).length, bytes: statSync(path).size, sealed: false });
      this.#seq = Math.max(this.#seq, Number(m[2]) + 1);
    }
  }

  stats(): SpoolStats {
    return {
      rows: this.#files.reduce((n, f) => n + f.rows, 0),
      bytes: this.#files.reduce((n, f) => n + f.bytes, 0),
      oldestAt: this.#files[0]?.at,
    };
  }

  empty(): boolean {
    return this.#files.length === 0;
  }

  full(): boolean {
    return this.stats().bytes >= this.#maxBytes;
  }

  /** Appends rows and fsyncs; resolves once they are on disk. Past the bound it still appends. */
  async append(rows: readonly NetLogRow[]): Promise<void> {
    if (rows.length === 0) return;
    const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    let file = this.#files.at(-1);
    if (file === undefined || file.sealed || file.bytes >= FILE_BYTES) {
      const at = this.#clock();
      file = { path: join(this.#dir, `netlog-${String(at).padStart(13, '0')}-${this.#seq++}.jsonl`), at, rows: 0, bytes: 0, sealed: false };
      this.#files.push(file);
    }
    const fh = await open(file.path, 'a', 0o600);
    try {
      await fh.appendFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    file.rows += rows.length;
    file.bytes += Buffer.byteLength(text);
  }

  /**
   * The oldest file's rows, to write back; `done()` removes the file once they are committed. A
   * line that does not parse (a torn write at a crash: the last line only) is skipped.
   */
  async oldest(): Promise<{ rows: NetLogRow[]; done: () => Promise<void> } | undefined> {
    const file = this.#files[0];
    if (file === undefined) return undefined;
    // Rows spooled from now on go to a new file, after this one.
    file.sealed = true;
    const rows: NetLogRow[] = [];
    for (const line of lines(await readFile(file.path, 'utf8'))) {
      try {
        rows.push(JSON.parse(line) as NetLogRow);
      } catch {
        // torn last line of a crash: its row was never counted as spooled
      }
    }
    return {
      rows,
      done: async () => {
        await unlink(file.path).catch(() => undefined);
        this.#files = this.#files.filter((f) => f !== file);
      },
    };
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

function byOrder(a: string, b: string): number {
  const ma = NAME.exec(a);
  const mb = NAME.exec(b);
  if (ma === null || mb === null) return a < b ? -1 : 1;
  return Number(ma[1]) - Number(mb[1]) || Number(ma[2]) - Number(mb[2]);
}
