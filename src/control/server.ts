import type { Server, ServerResponse } from 'node:http';
import { UsageError } from '../errors.js';
import type { ControlAddress } from './address.js';
import { buildControlApp } from './app.js';
import type { ControlDeps } from './deps.js';
import { listenUnix } from './listen.js';
import type { Route } from './route.js';
import { logRoutes } from './routes-log.js';
import { opsRoutes } from './routes-ops.js';
import { sandboxRoutes } from './routes-sandboxes.js';
import { secretRoutes } from './routes-secrets.js';

export interface ControlServer {
  /** Where it listens (TCP with the port actually bound). */
  readonly address: ControlAddress;
  /** Stops accepting, lets in-flight calls finish (up to graceMs), removes the socket file. */
  close(graceMs?: number): Promise<void>;
}

export interface ControlServerOptions {
  address: ControlAddress;
  version?: string;
  /** Ports the control API must never share (the proxy's). */
  forbiddenPorts?: readonly number[];
}

/** All routes of the API. */
export function controlRoutes(deps: ControlDeps, openapi: () => unknown): Route[] {
  return [...opsRoutes(deps, openapi), ...logRoutes(deps), ...secretRoutes(), ...sandboxRoutes(deps)];
}

/**
 * The control API: HTTP/JSON on a unix socket (0600; the caller acts as admin) or on TCP, where
 * every call but health and the OpenAPI document needs an API key whose role allows the route.
 * A separate server from the proxy: never on its port, and the proxy refuses CONNECTs to it.
 */
export async function startControlServer(deps: ControlDeps, options: ControlServerOptions): Promise<ControlServer> {
  const { address } = options;
  if (address.kind === 'tcp' && address.port !== 0 && options.forbiddenPorts?.includes(address.port)) {
    throw new UsageError(`the control API cannot listen on the proxy's port ${address.port}`);
  }
  const unix = address.kind === 'unix';
  const app = await buildControlApp(deps, unix, options.version ?? '0.1.0', (openapi) => controlRoutes(deps, openapi));
  await app.ready();
  const server: Server = app.server;
  const inflight = new Set<ServerResponse>();
  server.on('request', (_req, res: ServerResponse) => {
    inflight.add(res);
    res.once('close', () => inflight.delete(res));
  });

  let bound: ControlAddress;
  let cleanup = (): void => undefined;
  if (address.kind === 'unix') {
    cleanup = await listenUnix(server, address.path);
    bound = address;
  } else {
    bound = await listenTcp(server, address.host, address.port);
    if (options.forbiddenPorts?.includes(bound.kind === 'tcp' ? bound.port : -1)) {
      server.close();
      throw new UsageError(`the control API cannot listen on the proxy's port`);
    }
  }
  deps.logger.info({ control: bound.kind === 'unix' ? `unix:${bound.path}` : `${bound.host}:${bound.port}` }, 'control API listening');
  return {
    address: bound,
    close: async (graceMs = 2_000) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await closed;
      await app.close();
      cleanup();
    },
  };
}

function listenTcp(server: Server, host: string, port: number): Promise<ControlAddress> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address();
      if (a === null || typeof a === 'string') return reject(new Error('unexpected listen address'));
      resolve({ kind: 'tcp', host: a.address, port: a.port });
    });
  });
}
