import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { errnoCode, type HomePaths } from '../config/home.js';
import { RuntimeError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { CliContext } from './context.js';
import { ensureCaBundle, initHome, isInitialised } from './init.js';
import { out } from './output.js';
import { DEFAULT_LISTEN, formatListen, parseServeOptions, type RawServeOptions } from './serve-options.js';

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
};
// After a clean shutdown nothing should hold the event loop; if something does, do not hang.
const EXIT_FALLBACK_MS = 3_000;

/** `standin serve`: the gateway in the foreground until SIGINT or SIGTERM. */
export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run the gateway (initialises the home on first use)')
    .option('--listen <host:port>', 'proxy address', DEFAULT_LISTEN)
    .option('--control <unix:path|host:port>', 'control API address (not available in this version)')
    .option('--upstream-ca <file>', 'extra CA (PEM) trusted for upstream TLS (repeatable)', collect, [])
    .option('--resolve <host=ip>', 'pin a host name to an address (repeatable; development)', collect, [])
    .option('--allow-dest <ip[:port]|cidr>', 'let one private destination through (repeatable; development)', collect, [])
    .option('--log-level <level>', 'process log level (pino, on stderr)', 'info')
    .action(async (raw: RawServeOptions) => {
      const options = parseServeOptions(raw);
      // Loaded here, not at the top: every other command would pay for the proxy and X.509 code.
      const [{ loadCa }, { startGateway }, { createLogger }, { createNetLogWriter }] = await Promise.all([
        import('../ca/authority.js'),
        import('../gateway.js'),
        import('../logging/logger.js'),
        import('../netlog/writer.js'),
      ]);
      const paths = ctx.paths();
      if (!isInitialised(paths)) await initHome(paths);
      const logger = createLogger({ level: options.logLevel });
      const db = ctx.db();
      const store = ctx.store();
      const ca = await loadCa(paths.caDir);
      await ensureCaBundle(paths, ca.certPem);
      const netlog = createNetLogWriter(db, { onError: (err) => logger.error({ err }, 'network log write failed') });
      let gateway: Gateway;
      try {
        gateway = await startGateway({
          listen: options.listen,
          store,
          netlog,
          ca,
          upstreamCa: options.upstreamCa,
          resolve: options.resolve,
          allowDest: options.allowDest,
          logger,
        });
      } catch (e) {
        netlog.close();
        throw listenError(e, formatListen(options.listen));
      }
      const address = formatListen(gateway.address);
      try {
        writeServeState(paths, address);
      } catch (e) {
        await gateway.close();
        netlog.close();
        throw e;
      }
      out(`standin listening on http://${address}`);
      await untilSignal();
      logger.info('shutting down');
      // A second signal while draining means "now": skip the grace period.
      const force = (): void => process.exit(1);
      process.once('SIGINT', force).once('SIGTERM', force);
      try {
        await gateway.close();
        netlog.close();
      } finally {
        removeServeState(paths);
        ctx.close();
      }
      setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_FALLBACK_MS).unref();
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on).off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on).on('SIGTERM', on);
  });
}

// Only errors we recognise are described; anything else keeps its class name only (see errors.ts).
function listenError(e: unknown, address: string): unknown {
  const code = errnoCode(e);
  const reason = code === undefined ? undefined : LISTEN_ERRORS[code];
  return reason === undefined ? e : new RuntimeError(`cannot listen on ${address}: ${reason}`);
}

/** Tells `sandbox env` and `run` (other processes) where the running gateway listens. */
function writeServeState(paths: HomePaths, proxy: string): void {
  const state = { proxy, pid: process.pid, startedAt: new Date().toISOString() };
  try {
    writeFileSync(paths.serveState, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  } catch (e) {
    throw new RuntimeError(`cannot write ${paths.serveState}: ${errnoCode(e) ?? 'unknown error'}`);
  }
}

// Another gateway on the same home may have written the file since; only remove our own record.
function removeServeState(paths: HomePaths): void {
  try {
    const state: unknown = JSON.parse(readFileSync(paths.serveState, 'utf8'));
    if (typeof state === 'object' && state !== null && 'pid' in state && state.pid === process.pid) {
      rmSync(paths.serveState, { force: true });
    }
  } catch {
    // Already gone or unreadable: nothing of ours to remove.
  }
}
