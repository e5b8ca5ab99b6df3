import { join } from 'node:path';
import type { ControlServer } from '../control/server.js';
import type { Gateway } from '../gateway.js';
import type { CliContext } from './context.js';
import { describeError } from './errors.js';
import { out } from './output.js';
import { formatListen, type ServeOptions } from './serve-options.js';
import { drainOnSignal, gatewayOptions, listenError, openServeParts, openServeStoreAndCa, registerGauges, startControl, writeServeState } from './serve-parts.js';
import type { ServeStore } from './serve-store.js';

/** Set in a worker's environment by the primary: this process is one of its proxy workers. */
export const WORKER_ENV = 'STANDIN_WORKER';

// How often the primary reads whether its log writer can keep rows (the spool's bound) and tells
// the workers when that changes: a worker may start exchanges for up to this long after the
// bound is reached; their rows stay in the primary's memory, never dropped (spool.ts).
const LOG_STATE_EVERY_MS = 100;

/**
 * Node flags for the workers: the primary's own, plus a single-threaded GC. With one worker per
 * core, V8's parallel GC helper threads (one per core, in every worker) only compete with the
 * other workers for the same cores.
 */
function workerExecArgv(): string[] {
  const own = process.execArgv;
  return own.includes('--single-threaded-gc') ? own : [...own, '--single-threaded-gc'];
}

/**
 * `serve --workers N` (N > 1), the primary: the home, the CA (created here if missing; workers
 * only read it), the network log's one writer, the control API and the serve state; the proxy
 * runs in N workers sharing the listening socket. A worker that dies is replaced; SIGTERM drains
 * them all, then writes their last rows.
 */
export async function servePrimary(ctx: CliContext, options: ServeOptions): Promise<void> {
  const { WorkerPool } = await import('../workers/pool.js');
  // The primary's own view of the store serves /readyz and the snapshot-age gauge; each worker
  // keeps its own for its requests. One gateway id for the primary and its workers: their rows
  // are one chain, written here.
  const { paths, logger, store, served, ca, db, gatewayId, netlogBackend, netlogWriter, netlog, metrics } = await openServeParts(ctx, options);
  const pool = new WorkerPool({
    workers: options.workers,
    execArgv: workerExecArgv(),
    env: { [WORKER_ENV]: '1' },
    rowsDir: join(paths.home, 'spool', 'workers'),
    onRows: (rows) => {
      for (const row of rows) netlog.record(row);
    },
    onRowsError: (e) => logger.warn({ code: (e as NodeJS.ErrnoException).code }, 'cannot read a proxy worker\'s row file; retrying'),
    onWorkerListening: (pid) => logger.info({ pid }, 'proxy worker listening'),
    onWorkerExit: (info) => logger.warn(info, 'proxy worker exited; starting a replacement'),
  });
  const accepting = netlogWriter.accepting?.bind(netlogWriter);
  const logState = accepting === undefined ? undefined : setInterval(() => pool.setLogAccepting(accepting()), LOG_STATE_EVERY_MS).unref();
  let listening: { host: string; port: number };
  try {
    listening = await pool.start();
  } catch (e) {
    clearInterval(logState);
    await pool.stop();
    await netlog.close();
    await served.close();
    throw e;
  }
  const address = formatListen(listening);
  let ready = true;
  let control: ControlServer | undefined;
  try {
    control = await startControl(options, { paths, store, db, netlog: netlogBackend, storeHealth: () => served.health(), metrics, logger, proxyAddress: address, proxyPort: listening.port, caCertPem: ca.certPem, ready: () => ready });
    if (control?.address.kind === 'tcp') pool.setSelfPorts([control.address.port]);
    registerGauges(metrics, pool, netlogWriter, served);
    writeServeState(paths, address, control);
  } catch (e) {
    clearInterval(logState);
    await control?.close();
    await pool.stop();
    await netlog.close();
    await served.close();
    throw e;
  }
  logger.info({ workers: options.workers, pids: pool.pids(), gatewayId }, 'proxy workers listening; network log rows carry this gateway id');
  out(`standin listening on http://${address}`);
  // Workers drain first and send their last rows; then the log is written and the API stops.
  await drainOnSignal(ctx, logger, () => (ready = false), [() => pool.stop(), async () => clearInterval(logState), async () => netlog.close(), async () => control?.close(), () => served.close()]);
}

/**
 * One proxy worker: its own store connection (change detection by data_version, as for any other
 * process), the CA read from the home, its share of the per-sandbox limits, and a network log
 * that appends rows to a file the primary reads.
 */
export async function serveWorker(ctx: CliContext, options: ServeOptions): Promise<void> {
  const [{ startGateway }, { createLogger }, { workerRuntime }, { workerLimits }] = await Promise.all([
    import('../gateway.js'),
    import('../logging/logger.js'),
    import('../workers/worker.js'),
    import('../workers/limits.js'),
  ]);
  const runtime = workerRuntime();
  const { listen } = options;
  let gateway: Gateway;
  let served: ServeStore | undefined;
  try {
    const logger = createLogger({ level: options.logLevel });
    const opened = await openServeStoreAndCa(ctx, options, logger);
    served = opened.served;
    const base = gatewayOptions(options, { store: served.lookups, ca: opened.ca, logger, netlog: runtime.netlog, selfPorts: runtime.selfPorts });
    gateway = await startGateway({ ...base, limits: { ...base.limits, ...workerLimits(options.workers, options) } }).catch((e: unknown) => {
      throw listenError(e, formatListen(listen));
    });
  } catch (e) {
    const { lines, exitCode } = describeError(e);
    await runtime.failed(lines, exitCode);
    await served?.close();
    await ctx.close();
    process.exit(exitCode);
  }
  runtime.listening(gateway);
  await runtime.untilStop();
  // The primary kills a worker that has not drained after 8 s; leave before that on our own.
  setTimeout(() => process.exit(1), 7_000).unref();
  await runtime.drain(gateway);
  await served?.close();
  await ctx.close();
  process.exit(0);
}
