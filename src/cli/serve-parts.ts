import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatControlAddress, MAX_SOCKET_PATH, type ControlAddress } from '../control/address.js';
import type { Metrics } from '../control/metrics.js';
import type { ControlServer } from '../control/server.js';
import { errnoCode, type HomePaths } from '../config/home.js';
import { RuntimeError } from '../errors.js';
import type { CertificateAuthority } from '../ca/types.js';
import type { Gateway, GatewayOptions } from '../gateway.js';
import type { Logger } from '../logging/logger.js';
import type { NetLogBackend, NetLogReader } from '../netlog/backend.js';
import { resolveGatewayId } from '../config/gateway-id.js';
import type { NetLogWriter } from '../netlog/types.js';
import type { AsyncStore } from '../store/store-api.js';
import type { Db } from '../store/database.js';
import type { GatewayStore } from '../gateway.js';
import type { StoreHealth } from '../control/deps.js';
import type { CliContext } from './context.js';
import { ensureCaBundle, ensureNodePreload, initHome, isInitialised } from './init.js';
import type { ServeOptions } from './serve-options.js';
import type { ServeStore } from './serve-store.js';

/** The parts of `serve` shared by the single process, the primary and the workers. */

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
};

// After a clean shutdown nothing should hold the event loop; if something does, do not hang.
const EXIT_FALLBACK_MS = 3_000;

/**
 * Waits for SIGINT or SIGTERM, then runs the shutdown steps in order (a second signal while
 * draining means "now": exit at once), removes this process's serve state and closes the context.
 */
export async function drainOnSignal(ctx: CliContext, logger: Logger, notReady: () => void, steps: readonly (() => Promise<void>)[]): Promise<void> {
  await untilSignal();
  logger.info('shutting down');
  notReady();
  const force = (): void => process.exit(1);
  process.once('SIGINT', force).once('SIGTERM', force);
  try {
    for (const step of steps) await step();
  } finally {
    removeServeState(ctx.paths());
    await ctx.close();
  }
  setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_FALLBACK_MS).unref();
}

export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on).off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on).on('SIGTERM', on);
  });
}

// Only errors we recognise are described; anything else keeps its class name only (see errors.ts).
export function listenError(e: unknown, address: string): unknown {
  const code = errnoCode(e);
  const reason = code === undefined ? undefined : LISTEN_ERRORS[code];
  return reason === undefined ? e : new RuntimeError(`cannot listen on ${address}: ${reason}`);
}

/** What startGateway needs from the options; the caller adds its network log and own ports. */
export function gatewayOptions(
  options: ServeOptions,
  parts: { store: GatewayStore; ca: CertificateAuthority; logger: Logger; netlog: NetLogWriter; selfPorts: Set<number> },
): GatewayOptions {
  return {
    listen: options.listen,
    store: parts.store,
    netlog: parts.netlog,
    ca: parts.ca,
    upstreamCa: options.upstreamCa,
    resolve: options.resolve,
    allowDest: options.allowDest,
    logger: parts.logger,
    selfPorts: parts.selfPorts,
    limits: {
      ...(options.upstreamSocketsPerHost === undefined ? {} : { upstreamSocketsPerHost: options.upstreamSocketsPerHost }),
      ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    },
    ...(options.scrubUnboundHours === undefined ? {} : { unboundScrubMs: options.scrubUnboundHours * 3_600_000 }),
    http2: options.http2,
  };
}

/**
 * The store, the request path's view of it and the CA, for the single process, the primary and
 * each worker alike: on PostgreSQL each process keeps its own snapshot (LISTEN/NOTIFY) and takes
 * the fleet's CA from the database; on SQLite the store file and the CA files in the home.
 */
export async function openServeStoreAndCa(
  ctx: CliContext,
  options: ServeOptions,
  logger: Logger,
): Promise<{ store: AsyncStore; served: ServeStore; ca: CertificateAuthority }> {
  const [{ loadCa }, { openServeStore }] = await Promise.all([import('../ca/authority.js'), import('./serve-store.js')]);
  const paths = ctx.paths();
  const fleet = ctx.database().kind === 'postgres' ? async () => (await import('./fleet-ca.js')).loadFleetCa(await ctx.store(), paths) : undefined;
  if (!isInitialised(paths)) await initHome(paths, process.env, fleet);
  const store = await ctx.store();
  const served = await openServeStore(store, ctx.database(), {
    ...(options.dbStaleSeconds !== undefined ? { staleMs: options.dbStaleSeconds * 1000 } : {}),
    onProblem: (message) => logger.warn(message),
  });
  try {
    const ca = fleet === undefined ? await loadCa(paths.caDir) : (await fleet()).ca;
    return { store, served, ca };
  } catch (e) {
    await served.close();
    throw e;
  }
}

/** What the single process and the primary both open before they listen. */
export interface ServeParts {
  paths: HomePaths;
  logger: Logger;
  store: AsyncStore;
  served: ServeStore;
  ca: CertificateAuthority;
  db: Db;
  gatewayId: string;
  netlogBackend: NetLogBackend;
  /** The backend's writer, for the gauges; `netlog` is the same writer counted by the metrics. */
  netlogWriter: NetLogWriter;
  netlog: NetLogWriter;
  metrics: Metrics;
}

/**
 * The home, store, CA (and its bundle and the Node preload beside it), the gateway id and the one
 * network-log writer of this gateway (the primary writes its workers' rows too: one chain).
 */
export async function openServeParts(ctx: CliContext, options: ServeOptions): Promise<ServeParts> {
  const [{ createLogger }, { Metrics, instrumentNetLog }] = await Promise.all([import('../logging/logger.js'), import('../control/metrics.js')]);
  const paths = ctx.paths();
  const logger = createLogger({ level: options.logLevel });
  const { store, served, ca } = await openServeStoreAndCa(ctx, options, logger);
  const db = ctx.db();
  await ensureCaBundle(paths, ca.certPem);
  // The env the control API hands out names the preload beside the bundle: it must be there
  // (and this version's) in a home made before it existed, too.
  ensureNodePreload(paths);
  const gatewayId = resolveGatewayId(paths.home, options.gatewayId);
  const netlogBackend = await ctx.netlog();
  const netlogWriter = netlogBackend.createWriter({
    gatewayId,
    onError: (err) => logger.error({ err }, 'network log write failed'),
    ...(options.logSpoolBytes === undefined ? {} : { spoolMaxBytes: options.logSpoolBytes }),
  });
  const metrics = new Metrics();
  return { paths, logger, store, served, ca, db, gatewayId, netlogBackend, netlogWriter, netlog: instrumentNetLog(netlogWriter, metrics), metrics };
}

/** The control API of this `serve` (the default socket in the home unless told otherwise), or undefined. */
export async function startControl(
  options: ServeOptions,
  parts: { paths: HomePaths; store: AsyncStore; db: Db; netlog: NetLogReader; storeHealth: () => Promise<StoreHealth>; metrics: Metrics; logger: Logger; proxyAddress: string; proxyPort: number; caCertPem: string; ready: () => boolean },
): Promise<ControlServer | undefined> {
  const { startControlServer } = await import('../control/server.js');
  const { paths } = parts;
  const controlAddress = options.control === undefined ? defaultControlAddress(paths, parts.logger) : options.control;
  if (controlAddress === null) return undefined;
  return startControlServer(
    {
      store: parts.store,
      db: parts.db,
      netlog: parts.netlog,
      apiKeys: parts.store.apiKeys,
      storeHealth: parts.storeHealth,
      metrics: parts.metrics,
      logger: parts.logger,
      proxyAddress: () => parts.proxyAddress,
      caBundlePath: paths.caBundle,
      caCertPem: parts.caCertPem,
      caBundlePem: () => readFileSync(paths.caBundle, 'utf8'),
      ready: parts.ready,
    },
    { address: controlAddress, forbiddenPorts: [parts.proxyPort] },
  ).catch((e: unknown) => {
    throw controlAddress.kind === 'tcp' ? listenError(e, formatControlAddress(controlAddress)) : e;
  });
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

/** Gauges read at scrape time (from the gateway, or summed over the workers). */
export function registerGauges(metrics: Metrics, gateway: Pick<Gateway, 'stats'>, netlog: Pick<NetLogWriter, 'pending' | 'spooled'>, served: Pick<ServeStore, 'snapshotAgeSeconds'>): void {
  metrics.setGauge('netlog_queue_depth', () => netlog.pending());
  metrics.setGauge('store_snapshot_age_seconds', () => served.snapshotAgeSeconds());
  const spooled = netlog.spooled?.bind(netlog);
  if (spooled !== undefined) {
    metrics.setGauge('netlog_spool_rows', () => spooled().rows);
    metrics.setGauge('netlog_spool_bytes', () => spooled().bytes);
    metrics.setGauge('netlog_spool_oldest_age_seconds', () => {
      const at = spooled().oldestAt;
      return at === undefined ? 0 : Math.max(0, (Date.now() - at) / 1000);
    });
  }
  const stats = (): ReturnType<Gateway['stats']> => gateway.stats();
  metrics.setGauge('open_connections', () => stats().openConnections);
  metrics.setGauge('open_tunnels', () => stats().openTunnels);
  metrics.setGauge('cert_cache_size', () => stats().leafCacheSize);
}

/** Tells `sandbox env`, `run` and SDK clients (other processes) where the running gateway listens. */
export function writeServeState(paths: HomePaths, proxy: string, control?: ControlServer): void {
  const state = { proxy, ...(control === undefined ? {} : { control: formatControlAddress(control.address) }), pid: process.pid, startedAt: new Date().toISOString() };
  try {
    writeFileSync(paths.serveState, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  } catch (e) {
    throw new RuntimeError(`cannot write ${paths.serveState}: ${errnoCode(e) ?? 'unknown error'}`);
  }
}

// Another gateway on the same home may have written the file since; only remove our own record.
export function removeServeState(paths: HomePaths): void {
  try {
    const state: unknown = JSON.parse(readFileSync(paths.serveState, 'utf8'));
    if (typeof state === 'object' && state !== null && 'pid' in state && state.pid === process.pid) {
      rmSync(paths.serveState, { force: true });
    }
  } catch {
    // Already gone or unreadable: nothing of ours to remove.
  }
}
