import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';
import { handleConnect } from './connect.js';
import type { ProxyDeps, TunnelContext } from './deps.js';
import { Exchange } from '../exchange/exchange.js';
import { logExchange } from '../exchange/log-row.js';
import { handlePlainRequest } from './adapters/h1-plain.js';
import { writeRawProblem } from './problem.js';
import { handleTunnelRequest } from './adapters/h1-tunnel.js';
import { handleTunnelUpgrade } from './adapters/h1-websocket.js';
import { createH2Server } from './h2-server.js';
import type { TLSSocket } from 'node:tls';

export interface ProxyServer {
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stops accepting, lets in-flight exchanges finish for up to `graceMs`, then cuts the rest. */
  close(graceMs: number): Promise<void>;
  openConnections(): number;
  openTunnels(): number;
}

// Header limits as llhttp enforces them; never enable insecureHTTPParser (NODE-PITFALLS).
const PARSER_OPTIONS = { maxHeaderSize: 16 * 1024, insecureHTTPParser: false, joinDuplicateHeaders: false } as const;

/**
 * The proxy's sockets: an outer server for CONNECT and absolute-form plain HTTP, and one inner,
 * non-listening server that parses the decrypted streams of every intercepted tunnel.
 */
export function createProxyServer(deps: ProxyDeps): ProxyServer {
  const tunnels = new WeakMap<object, TunnelContext>();
  const tunnelCount = { open: 0 };
  const sockets = new Set<Socket>();

  // The inner server listens on a private unix socket nobody connects to: only a listening
  // server runs Node's connection checks, which apply headersTimeout to every request head on the
  // tunnels we hand it (NODE-PITFALLS: a non-listening server never does). keepAliveTimeout is the
  // idle limit between requests.
  const inner = createServer({
    ...PARSER_OPTIONS,
    connectionsCheckingInterval: Math.min(1_000, deps.limits.headMs),
    headersTimeout: deps.limits.headMs,
    requestTimeout: 0,
  });
  inner.timeout = deps.limits.idleMs;
  inner.keepAliveTimeout = deps.limits.idleMs;
  // With a 'checkContinue' listener Node no longer answers 100 Continue by itself: the request
  // handler does, after its checks.
  const onTunnelRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const ctx = tunnels.get(req.socket);
    if (!ctx) return void res.destroy();
    ctx.firstRequestDeadline.clear();
    ctx.requests += 1;
    handleTunnelRequest(deps, ctx, req, res);
  };
  inner.on('request', onTunnelRequest);
  inner.on('checkContinue', onTunnelRequest);
  inner.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    const ctx = tunnels.get(req.socket);
    if (!ctx) return void socket.destroy();
    ctx.firstRequestDeadline.clear();
    ctx.requests += 1;
    handleTunnelUpgrade(deps, ctx, req, socket, head);
  });
  // CONNECT inside a tunnel would open a tunnel we do not inspect.
  inner.on('connect', (req, socket: Duplex) => {
    const ctx = tunnels.get(req.socket);
    const record = new Exchange(deps.clock(), 'http/1.1', 'CONNECT');
    if (ctx) {
      ctx.requests += 1;
      record.sandbox = ctx.sandbox;
      record.target = ctx.target;
    }
    record.setPath((req.url ?? '').slice(0, 256));
    const err = new GatewayError('GW_METHOD_DENIED', 'CONNECT inside a tunnel');
    record.fail(err);
    writeRawProblem(socket, err, record.id);
    logExchange(record, deps.netlog, deps.clock());
  });
  inner.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const ctx = tunnels.get(socket);
    logClientError(deps, err, socket, ctx, 'https');
  });

  const outer = createServer({ ...PARSER_OPTIONS, connectionsCheckingInterval: 1_000, headersTimeout: deps.limits.headMs, requestTimeout: 0 });
  outer.keepAliveTimeout = 30_000;
  outer.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const h2 = createH2Server(deps);
  const serveTunnel = (tls: TLSSocket, tunnel: TunnelContext): void => {
    if (tls.alpnProtocol === 'h2') h2.serve(tls, tunnel);
    else {
      tunnels.set(tls, tunnel);
      inner.emit('connection', tls);
    }
  };
  outer.on('connect', (req, socket: Duplex, head: Buffer) => handleConnect(deps, serveTunnel, tunnelCount, req, socket, head));
  outer.on('request', (req, res) => handlePlainRequest(deps, req, res));
  outer.on('checkContinue', (req, res) => handlePlainRequest(deps, req, res));
  outer.on('upgrade', (req, socket: Duplex) => {
    const record = new Exchange(deps.clock(), 'http', req.method ?? '');
    record.setPath((req.url ?? '').slice(0, 256));
    const err = new GatewayError('GW_BAD_REQUEST', 'upgrades over plain HTTP are not relayed');
    record.fail(err);
    writeRawProblem(socket, err, record.id);
    logExchange(record, deps.netlog, deps.clock());
  });
  outer.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => logClientError(deps, err, socket, undefined, 'http'));

  const privateDir = mkdtempSync(join(tmpdir(), 'standin-'));
  return {
    listen: async (host, port) => {
      await new Promise<void>((resolve, reject) => {
        inner.once('error', reject);
        inner.listen(join(privateDir, 'inner.sock'), () => resolve());
      });
      return listen(outer, host, port).catch((e: unknown) => {
        inner.close();
        rmSync(privateDir, { recursive: true, force: true });
        throw e;
      });
    },
    close: async (graceMs) => {
      outer.close();
      outer.closeIdleConnections();
      inner.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) s.destroy();
      inner.closeAllConnections();
      inner.close();
      h2.close();
      rmSync(privateDir, { recursive: true, force: true });
    },
    openConnections: () => sockets.size,
    openTunnels: () => tunnelCount.open,
  };
}

/**
 * Requests the parser rejected (malformed, too large, too slow) are logged like any refusal, so
 * traffic cannot hide in malformed bytes. Plain socket errors (resets) are not requests.
 */
function logClientError(deps: ProxyDeps, err: NodeJS.ErrnoException, socket: Duplex, ctx: TunnelContext | undefined, scheme: 'http' | 'https'): void {
  const code = err.code ?? '';
  const isRequestError = code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT';
  if (isRequestError) {
    const record = new Exchange(deps.clock(), scheme === 'http' ? 'http' : 'http/1.1', 'INVALID');
    if (ctx) {
      ctx.requests += 1;
      record.sandbox = ctx.sandbox;
      record.target = ctx.target;
    }
    const gwErr = new GatewayError(code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'GW_TIMEOUT' : 'GW_BAD_REQUEST', code);
    record.fail(gwErr);
    writeRawProblem(socket, gwErr, record.id);
    logExchange(record, deps.netlog, deps.clock());
    setTimeout(() => socket.destroy(), 1_000).unref();
    return;
  }
  socket.destroy();
}

function listen(server: Server, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('unexpected listen address'));
      resolve({ host: addr.address, port: addr.port });
    });
  });
}
