import type { Command } from 'commander';
import type { ControlServer } from '../control/server.js';
import type { Gateway } from '../gateway.js';
import type { CliContext } from './context.js';
import { out } from './output.js';
import { servePrimary, serveWorker, WORKER_ENV } from './serve-cluster.js';
import { DEFAULT_LISTEN, formatListen, parseServeOptions, type ConfigKey, type RawServeOptions, type ServeOptions } from './serve-options.js';
import { drainOnSignal, gatewayOptions, listenError, openServeParts, registerGauges, startControl, writeServeState } from './serve-parts.js';

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
    .option('--gateway-id <id>', 'the id this gateway\'s network-log rows carry (default: $STANDIN_GATEWAY_ID, else one kept in the home)')
    .option('--max-body-bytes <n>', 'largest request body read for a body or signing scheme (default 1048576; larger: 413)')
    .option('--db-stale-seconds <n>', 'on PostgreSQL: seconds the gateway keeps serving from its snapshot while the database is unreachable before it refuses swaps (default 30)')
    .option('--log-spool-bytes <n>', 'on PostgreSQL: bytes of network-log rows the gateway keeps on disk while the database is away; at the bound it refuses new requests (default 1073741824)')
    .option('--workers <n>', 'proxy worker processes sharing the port, store, CA and network log (default: the number of cores; 1: one process)')
    .action(async (raw: RawServeOptions, cmd: Command) => {
      // A --control flag without value source 'cli' is commander's default (none): the file may set it.
      const options = parseServeOptions(raw, (key: ConfigKey) => cmd.getOptionValueSource(key) === 'cli');
      // Loaded here: every other command would pay for node:cluster (and child_process) at start-up.
      const { default: cluster } = await import('node:cluster');
      if (cluster.isWorker && process.env[WORKER_ENV] === '1') return serveWorker(ctx, options);
      if (options.workers > 1) return servePrimary(ctx, options);
      return serveSingle(ctx, options);
    });
}

/** `--workers 1`: the whole gateway in this process. */
async function serveSingle(ctx: CliContext, options: ServeOptions): Promise<void> {
  // Loaded here, not at the top: every other command would pay for the proxy and X.509 code.
  const { startGateway } = await import('../gateway.js');
  const { paths, logger, store, served, ca, db, gatewayId, netlogBackend, netlogWriter, netlog, metrics } = await openServeParts(ctx, options);
  // Ports the proxy refuses to CONNECT to; the control port joins once it is bound.
  const selfPorts = new Set<number>();
  let gateway: Gateway;
  try {
    gateway = await startGateway(gatewayOptions(options, { store: served.lookups, ca, logger, netlog, selfPorts }));
  } catch (e) {
    await netlog.close();
    await served.close();
    throw listenError(e, formatListen(options.listen));
  }
  const address = formatListen(gateway.address);
  let ready = true;
  let control: ControlServer | undefined;
  try {
    control = await startControl(options, {
      paths, store, db, netlog: netlogBackend, storeHealth: () => served.health(), metrics, logger,
      proxyAddress: address, proxyPort: gateway.address.port, caCertPem: ca.certPem, ready: () => ready,
    });
    if (control?.address.kind === 'tcp') selfPorts.add(control.address.port);
    registerGauges(metrics, gateway, netlogWriter, served);
    writeServeState(paths, address, control);
  } catch (e) {
    await control?.close();
    await gateway.close();
    await netlog.close();
    await served.close();
    throw e;
  }
  logger.info({ gatewayId }, 'network log rows carry this gateway id');
  out(`standin listening on http://${address}`);
  // The proxy drains first (the control API keeps answering /readyz with 503 meanwhile).
  await drainOnSignal(ctx, logger, () => (ready = false), [() => gateway.close(), async () => netlog.close(), async () => control?.close(), () => served.close()]);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
