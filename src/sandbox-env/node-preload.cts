/**
 * Preloaded into every Node program of a sandbox (`NODE_OPTIONS=--require=<this file>`), so that
 * programs that never read HTTPS_PROXY — Node 20's `fetch` and `node:http(s)`, and every SDK built
 * on them — still go through the gateway. It is copied on its own into the sandbox (next to the CA
 * bundle), where no node_modules exist: it may only use Node's built-in modules.
 *
 * What it installs, with undici's EnvHttpProxyAgent semantics (`https_proxy ?? HTTPS_PROXY`, else
 * the http proxy; `no_proxy ?? NO_PROXY`, entries `host`, `.suffix`, `*.suffix`, `host:port`, `*`):
 * - fetch: a global dispatcher (the `Symbol.for('undici.globalDispatcher.1')` slot that Node's
 *   bundled undici and the npm undici both read) that tunnels https origins with CONNECT and sends
 *   http ones to the proxy in absolute form. It is built from Node's own bundled undici Agent class,
 *   reached through the default dispatcher Node puts in that slot. A program that sets its own
 *   dispatcher (setGlobalDispatcher, or `dispatcher` in a fetch call) replaces or bypasses it.
 * - node:https: agents whose connection is the stock one (https.globalAgent, and `new https.Agent()`
 *   as stripe-node makes) open their TLS connection inside a CONNECT tunnel; node:http sends
 *   requests to the proxy in absolute form. Agents with their own createConnection (proxy agents,
 *   custom sockets) and requests on a unix socket are left alone.
 * Where Node itself honours NODE_USE_ENV_PROXY (22.21+, 24+), fetch and the global agents are left
 * to Node (its EnvHttpProxyAgent, global agents with a proxy configuration); agents made with
 * `new https.Agent()` get none from Node and are still handled here.
 *
 * Errors from the proxy are reported as such ("the proxy refused CONNECT api.example.com:443: 403
 * ..."), never hidden; the proxy credential is never put in a message.
 */
import http = require('node:http');
import https = require('node:https');
import net = require('node:net');
import tls = require('node:tls');
import type { Duplex } from 'node:stream';

interface ProxyConfig {
  host: string;
  port: number;
  /** `host:port` as written in a URL (IPv6 in brackets). */
  authority: string;
  /** The Proxy-Authorization value, when the proxy URL has credentials. */
  authorization: string | undefined;
}

type Env = Record<string, string | undefined>;
type Callback = (err: Error | null, socket?: Duplex) => void;

// Set on globalThis once installed: NODE_OPTIONS may name the preload twice (a nested `standin run`),
// and patching the agents twice would tunnel inside a tunnel.
const INSTALLED = Symbol.for('standin.nodeProxy');
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');
const MAX_HEAD = 16 * 1024;

function parseProxy(raw: string | undefined): ProxyConfig | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    warn('the proxy URL is not a URL; programs in this sandbox will not use the proxy');
    return undefined;
  }
  if (url.protocol !== 'http:') {
    warn(`proxy URLs of scheme ${url.protocol} are not supported; programs in this sandbox will not use the proxy`);
    return undefined;
  }
  const port = Number(url.port || 80);
  const user = decodeURIComponent(url.username);
  const authorization = url.username === '' ? undefined : `Basic ${Buffer.from(`${user}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  return { host: bare(url.hostname), port, authority: `${url.hostname}:${port}`, authorization };
}

/** NO_PROXY as undici's EnvHttpProxyAgent reads it: true when a host:port must go direct. */
function noProxyMatcher(env: Env): (hostname: string, port: number) => boolean {
  const raw = env['no_proxy'] ?? env['NO_PROXY'] ?? '';
  const entries = raw
    .split(/[,\s]/)
    .filter((e) => e !== '')
    .map((e) => {
      const m = /^(.+):(\d+)$/.exec(e);
      return { host: bare((m?.[1] ?? e).toLowerCase()), port: m?.[2] === undefined ? 0 : Number(m[2]) };
    });
  return (hostname, port) => {
    const host = bare(hostname.toLowerCase());
    return entries.some((e) => {
      if (e.host === '*') return true;
      if (e.port !== 0 && e.port !== port) return false;
      if (!/^[.*]/.test(e.host)) return host === e.host;
      return host.endsWith(e.host.replace(/^\*/, ''));
    });
  };
}

function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function authorityOf(host: string, port: number): string {
  const h = bare(host);
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
}

function warn(message: string): void {
  process.emitWarning(`standin: ${message}`, 'StandinProxyWarning');
}

/** A CONNECT tunnel through the proxy to host:port; the callback gets the raw tunnel socket. */
function openTunnel(proxy: ProxyConfig, host: string, port: number, done: Callback): void {
  const target = authorityOf(host, port);
  const socket = net.connect({ host: proxy.host, port: proxy.port });
  let head = Buffer.alloc(0);
  let settled = false;
  const finish = (err: Error | null): void => {
    if (settled) return;
    settled = true;
    socket.off('data', onData);
    if (err !== null) {
      socket.destroy();
      done(err);
      return;
    }
    done(null, socket);
  };
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > MAX_HEAD) finish(new Error(`standin: the proxy at ${proxy.authority} sent an oversized answer to CONNECT ${target}`));
      return;
    }
    const text = head.subarray(0, end).toString('latin1');
    const status = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?/.exec(text);
    if (status?.[1] === '200') {
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      finish(null);
      return;
    }
    // The gateway's refusals are problem+json with a stable code: say which, in plain words.
    const code = /"code"\s*:\s*"([A-Za-z0-9_]{1,64})"/.exec(head.subarray(end + 4).toString('utf8'))?.[1];
    const line = (status === null ? text.split('\r\n')[0] ?? '' : `${status[1]} ${status[2] ?? ''}`).replace(/[^\x20-\x7e]/g, '?').slice(0, 120).trim();
    finish(Object.assign(new Error(`standin: the proxy at ${proxy.authority} refused CONNECT ${target}: ${line}${code === undefined ? '' : ` (${code})`}`), { code: 'ERR_PROXY_TUNNEL' }));
  };
  socket.on('data', onData);
  socket.once('error', (e: NodeJS.ErrnoException) => {
    finish(Object.assign(new Error(`standin: cannot reach the proxy at ${proxy.authority} for ${target}: ${e.code ?? e.message}`), { code: e.code }));
  });
  socket.once('end', () => finish(new Error(`standin: the proxy at ${proxy.authority} closed the connection before answering CONNECT ${target}`)));
  socket.once('connect', () => {
    const auth = proxy.authorization === undefined ? '' : `Proxy-Authorization: ${proxy.authorization}\r\n`;
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
  });
}

/** Whether this Node honours NODE_USE_ENV_PROXY (the same test axios makes) and it is set. */
function nativeEnvProxy(): boolean {
  const v = process.env['NODE_USE_ENV_PROXY'];
  return process.allowedNodeEnvironmentFlags.has('--use-env-proxy') && v !== undefined && v !== '' && v !== '0';
}

/** Whether Node itself proxies this agent (NODE_USE_ENV_PROXY on Node 22.21+/24+). */
function nativelyProxied(agent: object): boolean {
  const key = Object.getOwnPropertySymbols(agent).find((s) => s.description === 'kProxyConfig');
  return key !== undefined && (agent as Record<symbol, unknown>)[key] != null;
}

interface ConnectOptions {
  host?: string | null;
  hostname?: string | null;
  port?: number | string | null;
  socketPath?: string;
  servername?: string;
}

type CreateConnection = (this: https.Agent, ...args: unknown[]) => Duplex | undefined;

function installHttpsAgent(proxy: ProxyConfig, direct: (host: string, port: number) => boolean): void {
  const proto = https.Agent.prototype as unknown as { createConnection: CreateConnection };
  const original = proto.createConnection;
  proto.createConnection = function createConnection(this: https.Agent, ...args: unknown[]): Duplex | undefined {
    const [options, callback] = args;
    // Only the (options, callback) form the Agent itself uses; anything else is someone's own call.
    if (typeof options !== 'object' || options === null || typeof callback !== 'function' || nativelyProxied(this)) return original.apply(this, args);
    const o = options as ConnectOptions & tls.ConnectionOptions;
    const host = o.host ?? o.hostname ?? 'localhost';
    const port = Number(o.port ?? 443);
    if (o.socketPath !== undefined || direct(host, port)) return original.apply(this, args);
    openTunnel(proxy, host, port, (err, socket) => {
      if (err !== null || socket === undefined) return (callback as Callback)(err ?? new Error('standin: no tunnel'));
      // The agent's own TLS options (ca, servername, rejectUnauthorized, ...) apply inside the tunnel.
      (callback as Callback)(null, tls.connect({ ...o, host: bare(host), port, socket }));
    });
    return undefined;
  };
}

interface PendingRequest {
  path: string;
  _header?: string | null;
  setHeader(name: string, value: string): unknown;
  getHeader(name: string): unknown;
}

type AddRequest = (this: http.Agent, req: PendingRequest, options: ConnectOptions & Record<string, unknown>, ...rest: unknown[]) => void;

function installHttpAgent(proxy: ProxyConfig, direct: (host: string, port: number) => boolean): void {
  const proto = http.Agent.prototype as unknown as { addRequest: AddRequest; createConnection: unknown };
  const original = proto.addRequest;
  const stockConnection = proto.createConnection;
  proto.addRequest = function addRequest(this: http.Agent, req, options, ...rest): void {
    const own = this as unknown as { createConnection: unknown };
    const plain = !(this instanceof https.Agent) && own.createConnection === stockConnection && !nativelyProxied(this);
    const host = options.host ?? options.hostname ?? 'localhost';
    const port = Number(options.port ?? 80);
    if (!plain || options.socketPath !== undefined || direct(host, port) || !req.path.startsWith('/')) {
      original.call(this, req, options, ...rest);
      return;
    }
    // Absolute form to the proxy, as curl and undici do for http:// URLs.
    const absolute = `http://${port === 80 ? authorityOf(host, port).replace(/:80$/, '') : authorityOf(host, port)}${req.path}`;
    if (typeof req._header === 'string') {
      // Headers were already rendered (an array of headers, or Expect): rewrite the request line.
      const auth = proxy.authorization === undefined ? '' : `Proxy-Authorization: ${proxy.authorization}\r\n`;
      req._header = req._header.replace(/^(\S+) \S+ (HTTP\/1\.[01])\r\n/, (_m, method: string, version: string) => `${method} ${absolute} ${version}\r\n${auth}`);
    } else if (proxy.authorization !== undefined) {
      req.setHeader('Proxy-Authorization', proxy.authorization);
    }
    req.path = absolute;
    original.call(this, req, { ...options, host: proxy.host, hostname: proxy.host, port: proxy.port }, ...rest);
  };
}

// ---- fetch (undici) ----

interface DispatchOptions {
  origin?: string | URL;
  path: string;
  headers?: unknown;
  [k: string]: unknown;
}

interface Dispatcher {
  dispatch(options: DispatchOptions, handler: unknown): boolean;
  close(): Promise<void>;
  destroy(err?: Error | null): Promise<void>;
}

type DispatcherClass = new (options?: Record<string, unknown>) => Dispatcher;

interface UndiciConnectOptions {
  hostname: string;
  host?: string;
  protocol: string;
  port: string | number;
  servername?: string | null;
}

function isDispatcher(v: unknown): v is Dispatcher {
  return typeof v === 'object' && v !== null && typeof (v as { dispatch?: unknown }).dispatch === 'function';
}

/** Headers in any form undici takes (object, flat array, array of pairs, iterable) as a flat array. */
function flatHeaders(headers: unknown, drop: readonly string[]): unknown[] {
  const out: unknown[] = [];
  const push = (k: unknown, v: unknown): void => {
    if (typeof k === 'string' && drop.includes(k.toLowerCase())) return;
    out.push(k, v);
  };
  if (headers === null || headers === undefined) return out;
  if (Array.isArray(headers)) {
    if (headers.every((h) => Array.isArray(h))) for (const [k, v] of headers as unknown[][]) push(k, v);
    else for (let i = 0; i + 1 < headers.length; i += 2) push(headers[i], headers[i + 1]);
  } else if (typeof (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') {
    for (const [k, v] of headers as Iterable<[unknown, unknown]>) push(k, v);
  } else if (typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) push(k, v);
  }
  return out;
}

function installDispatcher(httpProxy: ProxyConfig | undefined, httpsProxy: ProxyConfig | undefined, direct: (host: string, port: number) => boolean): void {
  const slot = globalThis as unknown as Record<symbol, unknown>;
  if (typeof (globalThis as { fetch?: unknown }).fetch !== 'function') return;
  // Node 22.21+/24 with NODE_USE_ENV_PROXY put their own EnvHttpProxyAgent in the slot after the
  // preloads have run (it would replace ours): leave fetch to them.
  if (nativeEnvProxy()) return;
  // Reading a lazy web global loads Node's bundled undici, which puts its default Agent in the slot.
  void (globalThis as { Headers?: unknown }).Headers;
  const base = slot[GLOBAL_DISPATCHER];
  if (!isDispatcher(base)) {
    warn('this Node has no global fetch dispatcher to replace; fetch will not use the proxy');
    return;
  }
  const fallback: Dispatcher = base;
  const Agent = base.constructor as DispatcherClass;
  const Base = Object.getPrototypeOf(Object.getPrototypeOf(Agent.prototype) as object)?.constructor as (new () => object) | undefined;
  const tunnelConnector = (proxy: ProxyConfig) => (o: UndiciConnectOptions, callback: Callback): void => {
    const port = Number(o.port || 443);
    openTunnel(proxy, o.hostname, port, (err, socket) => {
      if (err !== null || socket === undefined) return callback(err ?? new Error('standin: no tunnel'));
      const host = bare(o.hostname);
      const servername = o.servername ?? (net.isIP(host) === 0 ? host : undefined);
      // `host` is what the certificate is checked against when there is no servername (an IP).
      const secure = tls.connect({ socket, host, servername, ALPNProtocols: ['http/1.1'] });
      let called = false;
      const once = (e: Error | null): void => {
        if (called) return;
        called = true;
        if (e !== null) secure.destroy();
        callback(e, e === null ? secure : undefined);
      };
      secure.once('secureConnect', () => once(null));
      secure.once('error', once);
    });
  };
  const tunnel = httpsProxy === undefined ? undefined : new Agent({ connect: tunnelConnector(httpsProxy) });
  const forward = httpProxy === undefined ? undefined : new Agent();

  class StandinProxyDispatcher extends (Base ?? Object) implements Dispatcher {
    dispatch(options: DispatchOptions, handler: unknown): boolean {
      const origin = options.origin === undefined ? undefined : new URL(String(options.origin));
      const secure = origin?.protocol === 'https:';
      const port = Number(origin?.port || (secure ? 443 : 80));
      if (origin === undefined || direct(origin.hostname, port)) return fallback.dispatch(options, handler);
      if (secure && tunnel !== undefined) return tunnel.dispatch(options, handler);
      if (!secure && forward !== undefined && httpProxy !== undefined && options.path.startsWith('/')) {
        const headers = flatHeaders(options.headers, ['host', 'proxy-authorization']);
        headers.push('host', origin.host);
        if (httpProxy.authorization !== undefined) headers.push('proxy-authorization', httpProxy.authorization);
        return forward.dispatch({ ...options, origin: `http://${httpProxy.authority}`, path: `${origin.origin}${options.path}`, headers }, handler);
      }
      return fallback.dispatch(options, handler);
    }

    async close(): Promise<void> {
      await Promise.all([tunnel?.close(), forward?.close(), fallback.close()]);
    }

    async destroy(err?: Error | null): Promise<void> {
      await Promise.all([tunnel?.destroy(err), forward?.destroy(err), fallback.destroy(err)]);
    }
  }
  try {
    slot[GLOBAL_DISPATCHER] = new StandinProxyDispatcher();
  } catch {
    warn('cannot replace the global fetch dispatcher; fetch will not use the proxy');
  }
}

function install(env: Env): void {
  const flags = globalThis as unknown as Record<symbol, unknown>;
  if (flags[INSTALLED] === true) return;
  flags[INSTALLED] = true;
  const httpProxy = parseProxy(env['http_proxy'] ?? env['HTTP_PROXY']);
  const httpsProxy = parseProxy(env['https_proxy'] ?? env['HTTPS_PROXY']) ?? httpProxy;
  const direct = noProxyMatcher(env);
  if (httpsProxy !== undefined) installHttpsAgent(httpsProxy, direct);
  if (httpProxy !== undefined) installHttpAgent(httpProxy, direct);
  if (httpProxy !== undefined || httpsProxy !== undefined) installDispatcher(httpProxy, httpsProxy, direct);
}

try {
  install(process.env);
} catch (e) {
  // A preload must never stop the program from starting; say why the proxy is not in place.
  warn(`the proxy could not be installed (${e instanceof Error ? e.message : 'unknown error'}); programs in this sandbox may bypass it`);
}
