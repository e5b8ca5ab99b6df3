import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { UsageError } from '../errors.js';
import { DEFAULT_TENANT } from '../model/secrets.js';
import { checkLabel } from '../store/validate.js';
import type { ControlAddress } from './address.js';
import type { ControlDeps } from './deps.js';
import { listenUnix } from './listen.js';
import { buildOpenApi } from './openapi.js';
import { ControlError, sendJson, sendProblem, sendText } from './problem.js';
import { Router, type Caller, type Reply, type Route } from './router.js';
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

const BEARER = /^Bearer ([\x21-\x7e]{1,200})$/;

/** All routes of the API, in the order they are matched. */
export function controlRoutes(deps: ControlDeps, version = '0.1.0'): Route[] {
  const routes: Route[] = [];
  const openapi = (): unknown => buildOpenApi(routes, version);
  routes.push(...opsRoutes(deps, openapi), ...secretRoutes(), ...sandboxRoutes(deps));
  return routes;
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
  const router = new Router(controlRoutes(deps, options.version));
  const unix = address.kind === 'unix';
  const server = createServer({ maxHeaderSize: 16 * 1024, insecureHTTPParser: false, headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 });
  server.maxConnections = 256;
  const inflight = new Set<ServerResponse>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    inflight.add(res);
    res.once('close', () => inflight.delete(res));
    void handle(deps, router, unix, req, res);
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
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
      cleanup();
    },
  };
}

async function handle(deps: ControlDeps, router: Router, unix: boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  let operation = 'unmatched';
  let caller: Caller | undefined;
  let status = 500;
  try {
    const url = req.url ?? '';
    // Only origin-form: an absolute-form target (a proxy-style request) is not for us.
    if (!url.startsWith('/') || url.startsWith('//')) throw new ControlError('CTL_NOT_FOUND');
    const parsed = new URL(url, 'http://control.invalid');
    const { route, params } = router.match(req.method ?? '', parsed.pathname);
    operation = route.operationId;
    caller = authenticate(deps, unix, req, route);
    const store = deps.store.forTenant(caller.tenant);
    const reply = await route.handle({ req, params, query: parsed.searchParams, caller, store });
    status = reply.status;
    send(res, reply);
    if (route.mutating) deps.logger.info({ actor: caller.actor, operation, status }, 'control call');
  } catch (e) {
    const err = toControlError(e);
    status = err.status;
    if (err.code === 'CTL_INTERNAL') deps.logger.error({ err: e, operation }, 'control call failed');
    else deps.logger.debug({ operation, status, code: err.code, actor: caller?.actor }, 'control call refused');
    if (!res.headersSent) {
      const headers: Record<string, string> = err.code === 'CTL_UNAUTHORIZED' ? { 'www-authenticate': 'Bearer realm="standin"' } : {};
      // An unread body would otherwise be parsed as the next request on this connection.
      if (!req.complete) headers.connection = 'close';
      sendProblem(res, err, headers);
    } else {
      res.destroy();
    }
  } finally {
    deps.metrics.observeControl(operation, status);
    deps.logger.debug({ operation, status, ms: Math.round(performance.now() - started) }, 'control request');
  }
}

function authenticate(deps: ControlDeps, unix: boolean, req: IncomingMessage, route: Route): Caller {
  const named = tenantHeader(req);
  if (route.roles === 'public') {
    return { actor: unix ? 'api:unix' : 'api:anonymous', role: unix ? 'admin' : 'auditor', tenant: DEFAULT_TENANT, canReveal: false };
  }
  let caller: Caller;
  if (unix) {
    // The socket is 0600: whoever reaches it administers the home, in the tenant it names.
    caller = { actor: 'api:unix', role: 'admin', tenant: named ?? DEFAULT_TENANT, canReveal: false };
  } else {
    // One Authorization header exactly (rawHeaders: a second one is not hidden by req.headers).
    const values = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]?.toLowerCase() === 'authorization').length;
    const m = values === 1 ? BEARER.exec(req.headers.authorization ?? '') : null;
    const key = m?.[1] === undefined ? undefined : deps.apiKeys.verify(m[1]);
    if (key === undefined) throw new ControlError('CTL_UNAUTHORIZED');
    caller = { actor: `api:${key.name}`, role: key.role, tenant: key.tenant, canReveal: key.canReveal };
    // A key belongs to one tenant; naming another is refused, not ignored, so the mistake shows.
    if (named !== undefined && named !== key.tenant) throw new ControlError('CTL_FORBIDDEN', 'this API key belongs to another tenant');
  }
  if (!route.roles.includes(caller.role)) throw new ControlError('CTL_FORBIDDEN', `role ${caller.role} cannot call ${route.operationId}`);
  return caller;
}

/** `Standin-Tenant: NAME`, lower-cased; exactly one such header or none. */
function tenantHeader(req: IncomingMessage): string | undefined {
  const values = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]?.toLowerCase() === 'standin-tenant');
  if (values.length === 0) return undefined;
  const v = req.headers['standin-tenant'];
  if (values.length > 1 || typeof v !== 'string') throw new ControlError('CTL_INVALID', 'give one Standin-Tenant header');
  return checkLabel('tenant', v, DEFAULT_TENANT);
}

function send(res: ServerResponse, reply: Reply): void {
  if ('json' in reply) sendJson(res, reply.status, reply.json);
  else if ('text' in reply) sendText(res, reply.status, reply.text, reply.contentType);
  else {
    res.writeHead(204, { 'cache-control': 'no-store' });
    res.end();
  }
}

/** Our errors keep their message; the store's UsageErrors (ours too) are mapped by what they say. */
function toControlError(e: unknown): ControlError {
  if (e instanceof ControlError) return e;
  if (e instanceof UsageError) {
    if (/^no (secret|sandbox|API key|tenant) named/.test(e.message) || / has no binding for /.test(e.message)) return new ControlError('CTL_NOT_FOUND', e.message);
    if (/ already exists$/.test(e.message)) return new ControlError('CTL_CONFLICT', e.message);
    return new ControlError('CTL_INVALID', e.message);
  }
  return new ControlError('CTL_INTERNAL');
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
