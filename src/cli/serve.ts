import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatControlAddress, MAX_SOCKET_PATH, type ControlAddress } from '../control/address.js';
import type { ControlServer } from '../control/server.js';
import { errnoCode, type HomePaths } from '../config/home.js';
import { RuntimeError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { CliContext } from './context.js';
import { ensureCaBundle, ensureNodePreload, initHome, isInitialised } from './init.js';
import { out } from './output.js';
import { DEFAULT_LISTEN, formatListen, parseServeOptions, type ConfigKey, type RawServeOptions } from './serve-options.js';

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
    .option('--control <unix:path|host:port>', 'control API address (default: unix socket run/control.sock in the home; TCP needs API keys)')
    .option('--no-control', 'do not start the control API')
    .option('--config <file>', 'JSON file with the same settings as the flags (flags win)')
    .option('--upstream-ca <file>', 'extra CA (PEM) trusted for upstream TLS (repeatable)', collect, [])
    .option('--resolve <host=ip>', 'pin a host name to an address (repeatable; development)', collect, [])
    .option('--allow-dest <ip[:port]|cidr>', 'let one private destination through (repeatable; development)', collect, [])
    .option('--log-level <level>', 'process log level (pino, on stderr)', 'info')
    .option('--no-http2', 'offer only HTTP/1.1 to sandboxes (ALPN)')
    .option('--scrub-unbound-hours <n>', 'hours the values of an unbound secret are still scrubbed from its sandbox\'s responses (default 168)')
    .option('--upstream-sockets-per-host <n>', 'concurrent upstream connections one sandbox may hold to one host (default 64; more requests wait)')
    .option('--max-body-bytes <n>', 'largest request body read for a body or signing scheme (default 1048576; larger: 413)')
    .option('--db-stale-seconds <n>', 'on PostgreSQL: seconds the gateway keeps serving from its snapshot while the database is unreachable before it refuses swaps (default 30)')
    .action(async (raw: RawServeOptions, cmd: Command) => {
      // A --control flag without value source 'cli' is commander's default (none): the file may set it.
      const options = parseServeOptions(raw, (key: ConfigKey) => cmd.getOptionValueSource(key) === 'cli');
      // Loaded here, not at the top: every other command would pay for the proxy and X.509 code.
      const [{ loadCa }, { startGateway }, { createLogger }, { openServeNetLog }, { Metrics, instrumentNetLog }, { startControlServer }, { openServeStore }] = await Promise.all([
        import('../ca/authority.js'),
        import('../gateway.js'),
        import('../logging/logger.js'),
        import('./serve-netlog.js'),
        import('../control/metrics.js'),
        import('../control/server.js'),
        import('./serve-store.js'),
      ]);
      const paths = ctx.paths();
      const fleet = ctx.database().kind === 'postgres' ? async () => (await import('./fleet-ca.js')).loadFleetCa(await ctx.store(), paths) : undefined;
      if (!isInitialised(paths)) await initHome(paths, process.env, fleet);
      const logger = createLogger({ level: options.logLevel });
      const db = ctx.db();
      const store = await ctx.store();
      const served = await openServeStore(store, ctx.database(), {
        ...(options.dbStaleSeconds !== undefined ? { staleMs: options.dbStaleSeconds * 1000 } : {}),
        onProblem: (message) => logger.warn(message),
      });
      const ca = fleet === undefined ? await loadCa(paths.caDir) : (await fleet()).ca;
      await ensureCaBundle(paths, ca.certPem);
      // The env the control API hands out names the preload beside the bundle: it must be there
      // (and this version's) in a home made before it existed, too.
      ensureNodePreload(paths);
      const netlogWriter = openServeNetLog(ctx.database(), db, (err) => logger.error({ err }, 'network log write failed'));
      const metrics = new Metrics();
      const netlog = instrumentNetLog(netlogWriter, metrics);
      // Ports the proxy refuses to CONNECT to; the control port joins once it is bound.
      const selfPorts = new Set<number>();
      const gatewayOptions = {
        listen: options.listen,
        store: served.lookups,
        netlog,
        ca,
        upstreamCa: options.upstreamCa,
        resolve: options.resolve,
        allowDest: options.allowDest,
        logger,
        selfPorts,
        limits: {
          ...(options.upstreamSocketsPerHost === undefined ? {} : { upstreamSocketsPerHost: options.upstreamSocketsPerHost }),
          ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
        },
        unboundScrubMs: options.scrubUnboundHours === undefined ? undefined : options.scrubUnboundHours * 3_600_000,
        http2: options.http2,
      };
      let gateway: Gateway;
      try {
        gateway = await startGateway(gatewayOptions);
      } catch (e) {
        netlog.close();
        await served.close();
        throw listenError(e, formatListen(options.listen));
      }
      const address = formatListen(gateway.address);
      let ready = true;
      let control: ControlServer | undefined;
      try {
        const controlAddress = options.control === undefined ? defaultControlAddress(paths, logger) : options.control;
        if (controlAddress !== null) {
          control = await startControlServer(
            {
              store,
              db,
              apiKeys: store.apiKeys,
              storeHealth: () => served.health(),
              metrics,
              logger,
              proxyAddress: () => address,
              caBundlePath: paths.caBundle,
              caCertPem: ca.certPem,
              caBundlePem: () => readFileSync(paths.caBundle, 'utf8'),
              ready: () => ready,
            },
            { address: controlAddress, forbiddenPorts: [gateway.address.port] },
          ).catch((e: unknown) => {
            throw controlAddress.kind === 'tcp' ? listenError(e, formatControlAddress(controlAddress)) : e;
          });
          if (control.address.kind === 'tcp') selfPorts.add(control.address.port);
        }
        registerGauges(metrics, gateway, netlogWriter);
        metrics.setGauge('store_snapshot_age_seconds', () => served.snapshotAgeSeconds());
        writeServeState(paths, address, control === undefined ? undefined : formatControlAddress(control.address));
      } catch (e) {
        await control?.close();
        await gateway.close();
        netlog.close();
        await served.close();
        throw e;
      }
      out(`standin listening on http://${address}`);
      await untilSignal();
      logger.info('shutting down');
      ready = false;
      // A second signal while draining means "now": skip the grace period.
      const force = (): void => process.exit(1);
      process.once('SIGINT', force).once('SIGTERM', force);
      try {
        // The proxy drains first (the control API keeps answering /readyz with 503 meanwhile).
        await gateway.close();
        netlog.close();
        await control?.close();
        await served.close();
      } finally {
        removeServeState(paths);
        await ctx.close();
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

/**
 * The control socket in the home (`run/`, 0700). A home whose path is too long for a socket
 * address gets no default control API (a warning says so) rather than a gateway that cannot start.
 */
function defaultControlAddress(paths: HomePaths, logger: { warn: (o: object, m: string) => void }): ControlAddress | null {
  const dir = join(paths.home, 'run');
  const path = join(dir, 'control.sock');
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    logger.warn({ path }, 'home path too long for the control socket: pass --control unix:PATH, or --no-control');
    return null;
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (e) {
    throw new RuntimeError(`cannot create ${dir}: ${errnoCode(e) ?? 'unknown error'}`);
  }
  return { kind: 'unix', path };
}

/** Gauges read at scrape time. */
function registerGauges(metrics: import('../control/metrics.js').Metrics, gateway: Gateway, netlog: { pending(): number }): void {
  metrics.setGauge('netlog_queue_depth', () => netlog.pending());
  const stats = (): ReturnType<Gateway['stats']> => gateway.stats();
  metrics.setGauge('open_connections', () => stats().openConnections);
  metrics.setGauge('open_tunnels', () => stats().openTunnels);
  metrics.setGauge('cert_cache_size', () => stats().leafCacheSize);
}

/** Tells `sandbox env`, `run` and SDK clients (other processes) where the running gateway listens. */
function writeServeState(paths: HomePaths, proxy: string, control?: string): void {
  const state = { proxy, ...(control === undefined ? {} : { control }), pid: process.pid, startedAt: new Date().toISOString() };
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
