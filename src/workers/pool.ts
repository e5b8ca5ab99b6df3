import cluster, { type Worker } from 'node:cluster';
import type { NetLogRow } from '../netlog/types.js';
import { asWorkerMessage, WorkerStartError, type PrimaryMessage, type WorkerStats } from './protocol.js';
import { ROWS_DIR_ENV } from './row-file.js';
import { RowFileReader } from './row-file-reader.js';

export interface WorkerPoolOptions {
  workers: number;
  /** Node flags for the workers (the primary's own, plus tuning). */
  execArgv: string[];
  /** Extra environment for every worker (what tells it that it is one). */
  env: Record<string, string>;
  /** Where the workers append their rows (row-file.ts): a private directory of the home. */
  rowsDir: string;
  /** Finished and forwarded rows, in each worker's order; the primary writes them. */
  onRows(rows: NetLogRow[]): void;
  /** A worker's row file could not be read (retried on the next round). */
  onRowsError?(e: unknown): void;
  /** A worker (first or replacement) is listening. */
  onWorkerListening?(pid: number | undefined): void;
  /** A worker that died after start-up (it is replaced). */
  onWorkerExit(info: { pid: number | undefined; code: number | null; signal: string | null; restartInMs: number }): void;
  clock?: () => number;
}

const EMPTY_STATS: WorkerStats = { openConnections: 0, openTunnels: 0, leafCacheSize: 0, upstreamSockets: 0, upstreamPools: 0 };
// A worker that keeps dying is restarted with a growing pause (up to this), not in a tight loop.
const MAX_RESTART_DELAY_MS = 5_000;
const CRASH_WINDOW_MS = 10_000;
// After SIGTERM a worker drains (the gateway's grace period is 5 s); past this it is killed.
const STOP_GRACE_MS = 8_000;
// How often the workers' row files are read: every 10 ms while rows come (they reach the log
// writer, which batches for 50 ms anyway, that much later); after a read that found none the pause
// doubles, up to 200 ms, so that an idle primary hardly wakes; a read that finds rows brings it back
// to 10 ms.
const READ_ROWS_MS = 10;
const READ_ROWS_IDLE_MS = 200;

interface Slot {
  worker: Worker;
  listening: boolean;
  stats: WorkerStats;
  /** Resolves once the worker has exited and its IPC channel is closed (every message read). */
  gone: Promise<void>;
}

/**
 * The proxy workers of `serve --workers N`: forks them (node:cluster, round-robin: the primary
 * accepts and deals connections out), replaces one that dies, reads the rows they append to their
 * row files and hands them to the one network-log writer, sums their gauges, and drains them all
 * on stop.
 */
export class WorkerPool {
  readonly #opts: WorkerPoolOptions;
  readonly #slots = new Set<Slot>();
  readonly #clock: () => number;
  #address: { host: string; port: number } | undefined;
  #selfPorts: number[] = [];
  #logAccepting = true;
  #stopping = false;
  #recentCrashes: number[] = [];
  readonly #rows: RowFileReader;
  #reading: NodeJS.Timeout | undefined;
  #readPause = READ_ROWS_MS;

  constructor(opts: WorkerPoolOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? Date.now;
    this.#rows = new RowFileReader(opts.rowsDir, this.#clock);
  }

  /** Forks the workers; resolves with the address once all listen, rejects if one cannot start. */
  async start(): Promise<{ host: string; port: number }> {
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ execArgv: this.#opts.execArgv, serialization: 'advanced' });
    // Rows left by workers of a gateway that stopped without reading them (killed with them).
    for (const pid of this.#rows.leftovers()) this.#finishRows(pid);
    this.#scheduleRead();
    // Every worker listens on the configured address: node:cluster binds it once, in this process,
    // and shares that handle (port 0 too: all get the port the first bind picked, for as long as
    // one worker holds it).
    const all = await Promise.all(Array.from({ length: this.#opts.workers }, () => this.#fork()));
    return this.#address ?? all[0] ?? { host: '', port: 0 };
  }

  /** Ports of this process the proxy must refuse (the control API's), sent to every worker. */
  setSelfPorts(ports: number[]): void {
    this.#selfPorts = ports;
    for (const s of this.#slots) if (s.listening) this.#send(s.worker, { t: 'selfPorts', ports });
  }

  /** Whether the network-log writer can keep rows; told to every worker when it changes (and to new ones). */
  setLogAccepting(accepting: boolean): void {
    if (accepting === this.#logAccepting) return;
    this.#logAccepting = accepting;
    for (const s of this.#slots) if (s.listening) this.#send(s.worker, { t: 'logAccepting', accepting });
  }

  stats(): WorkerStats {
    const sum = { ...EMPTY_STATS };
    for (const s of this.#slots) for (const k of Object.keys(sum) as (keyof WorkerStats)[]) sum[k] += s.stats[k];
    return sum;
  }

  size(): number {
    return this.#slots.size;
  }

  pids(): number[] {
    return [...this.#slots].map((s) => s.worker.process.pid ?? 0);
  }

  /** SIGTERM to every worker (each drains its exchanges and sends its last rows), then waits. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const all = [...this.#slots];
    for (const s of all) s.worker.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const s of all) if (s.worker.process.exitCode === null) s.worker.process.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await Promise.all(all.map((s) => s.gone));
    clearTimeout(timer);
    if (this.#reading !== undefined) clearTimeout(this.#reading);
    this.#reading = undefined;
  }

  #scheduleRead(): void {
    this.#reading = setTimeout(() => {
      const found = this.#readRows();
      this.#readPause = found ? READ_ROWS_MS : Math.min(READ_ROWS_IDLE_MS, this.#readPause * 2);
      if (!this.#stopping || this.#slots.size > 0) this.#scheduleRead();
    }, this.#readPause);
  }

  #readRows(): boolean {
    let found = false;
    for (const s of this.#slots) {
      const pid = s.worker.process.pid;
      if (pid !== undefined && this.#deliver(() => this.#rows.read(pid))) found = true;
    }
    return found;
  }

  /** The last rows of a worker that is gone, and the closing rows of what it left open. */
  #finishRows(pid: number): void {
    this.#deliver(() => this.#rows.finish(pid));
  }

  // Hands what `take` read to the log writer; says whether there was any. A file that cannot be
  // read this round (a damaged home) is reported and keeps its bytes for the next one.
  #deliver(take: () => NetLogRow[]): boolean {
    try {
      const rows = take();
      if (rows.length > 0) this.#opts.onRows(rows);
      return rows.length > 0;
    } catch (e) {
      this.#opts.onRowsError?.(e);
      return false;
    }
  }

  #send(worker: Worker, m: PrimaryMessage): void {
    if (worker.isConnected()) worker.send(m);
  }

  #fork(): Promise<{ host: string; port: number }> {
    const worker = cluster.fork({ ...this.#opts.env, [ROWS_DIR_ENV]: this.#opts.rowsDir });
    let exited = false;
    let disconnected = false;
    let markGone: () => void = () => undefined;
    const gone = new Promise<void>((resolve) => (markGone = resolve));
    const slot: Slot = { worker, listening: false, stats: { ...EMPTY_STATS }, gone };
    this.#slots.add(slot);
    return new Promise((resolve, reject) => {
      let failure: WorkerStartError | undefined;
      worker.on('message', (raw: unknown) => {
        const m = asWorkerMessage(raw);
        if (m === undefined) return;
        if (m.t === 'stats') slot.stats = m.stats;
        else if (m.t === 'fatal') failure = new WorkerStartError(m.lines, m.exitCode);
        else if (m.t === 'listening') {
          slot.listening = true;
          this.#address ??= { host: m.host, port: m.port };
          if (this.#selfPorts.length > 0) this.#send(worker, { t: 'selfPorts', ports: this.#selfPorts });
          if (!this.#logAccepting) this.#send(worker, { t: 'logAccepting', accepting: false });
          this.#opts.onWorkerListening?.(worker.process.pid);
          resolve({ host: m.host, port: m.port });
        }
      });
      const ended = (): void => {
        if (!exited || !disconnected) return;
        this.#slots.delete(slot);
        // Everything it wrote, and a closing row for each exchange it left open (a crash).
        const pid = worker.process.pid;
        if (pid !== undefined) this.#finishRows(pid);
        markGone();
        if (!slot.listening) {
          const how = worker.process.signalCode ?? `code ${worker.process.exitCode ?? 'none'}`;
          reject(failure ?? new WorkerStartError([`standin: a proxy worker exited during start-up (${how})`], 1));
          if (this.#address === undefined || this.#stopping) return;
        }
        if (!this.#stopping) this.#replace(worker);
      };
      worker.process.once('exit', () => {
        exited = true;
        ended();
      });
      worker.once('disconnect', () => {
        disconnected = true;
        ended();
      });
    });
  }

  #replace(dead: Worker): void {
    const now = this.#clock();
    this.#recentCrashes = [...this.#recentCrashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    const delay = Math.min(MAX_RESTART_DELAY_MS, 50 * 2 ** (this.#recentCrashes.length - 1));
    this.#opts.onWorkerExit({ pid: dead.process.pid, code: dead.process.exitCode, signal: dead.process.signalCode, restartInMs: delay });
    setTimeout(() => {
      if (this.#stopping || this.#address === undefined) return;
      // A replacement that cannot start is retried like any other exit.
      this.#fork().catch(() => undefined);
    }, delay).unref();
  }
}
