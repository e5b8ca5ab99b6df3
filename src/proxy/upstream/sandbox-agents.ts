import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { UpstreamTarget } from './open-upstream.js';

/** Bounds of the per-sandbox upstream pools. */
export interface UpstreamPoolLimits {
  /** Concurrent upstream sockets one sandbox may hold to one host (more requests wait their turn). */
  socketsPerHost: number;
  /** Idle keep-alive sockets one sandbox keeps per host. */
  freeSocketsPerHost: number;
  /** An idle keep-alive socket is closed after this long; a sandbox's idle pool is dropped too. */
  idleMs: number;
}

export const DEFAULT_POOL_LIMITS: UpstreamPoolLimits = { socketsPerHost: 64, freeSocketsPerHost: 8, idleMs: 30_000 };

/**
 * Upstream connections that belong to one sandbox. A connection opened for a sandbox's request is
 * reused only by that sandbox's requests (and so never across tenants): a server that keeps state
 * per connection (a session, NTLM-style auth, a late extra response) can never make one sandbox act
 * as, or read for, another. Each sandbox has its own agents, so its sockets per host are capped on
 * their own and one sandbox holding slow requests cannot starve the others. Idle pools are reaped.
 */
export class SandboxAgents {
  readonly #pools = new Map<string, { https: HttpsAgent; http: HttpAgent; lastUsed: number; handed: Map<string, TLSSocket> }>();
  readonly #reaper: NodeJS.Timeout;
  // Handed-off sockets an agent took: connected and verified before any request had them.
  readonly #adopted = new WeakSet<Duplex>();

  constructor(
    private readonly secureContext: SecureContext,
    private readonly limits: UpstreamPoolLimits,
    private readonly clock: () => number,
  ) {
    this.#reaper = setInterval(() => this.reap(), Math.max(1_000, Math.min(limits.idleMs, 30_000)));
    this.#reaper.unref();
  }

  agentFor(sandboxId: string, tls: boolean): HttpAgent {
    let pool = this.#pools.get(sandboxId);
    if (pool === undefined) {
      const common = {
        keepAlive: true,
        maxSockets: this.limits.socketsPerHost,
        maxFreeSockets: this.limits.freeSocketsPerHost,
        timeout: this.limits.idleMs,
        scheduling: 'lifo' as const,
      };
      const handed = new Map<string, TLSSocket>();
      pool = {
        https: adoptingHandedOff(closingIdleData(new HttpsAgent({ ...common, secureContext: this.secureContext, rejectUnauthorized: true })), handed, this.#adopted),
        http: closingIdleData(new HttpAgent(common)),
        lastUsed: 0,
        handed,
      };
      this.#pools.set(sandboxId, pool);
    }
    pool.lastUsed = this.clock();
    return tls ? pool.https : pool.http;
  }

  /**
   * A verified TLS connection this sandbox's ALPN probe opened (dial.ts: same address, port, SNI
   * and trust) that selected HTTP/1.1: the next connection the sandbox's agent would open to that
   * origin is this one, so it is pooled and kept alive like any other. Unused (the agent had a
   * free socket), it is closed after a few seconds.
   */
  handOff(to: UpstreamTarget, socket: TLSSocket): void {
    this.agentFor(to.sandboxId, true);
    const pool = this.#pools.get(to.sandboxId);
    if (pool === undefined) return void socket.destroy();
    // The same fields open-upstream.ts gives the agent for this target.
    const key = connectionKey(to.address.address, to.target.port, to.target.kind === 'name' ? to.target.host : undefined);
    pool.handed.get(key)?.destroy();
    pool.handed.set(key, socket);
    const unused = setTimeout(() => {
      if (pool.handed.get(key) !== socket) return;
      pool.handed.delete(key);
      socket.destroy();
    }, 5_000);
    unused.unref();
  }

  /** Whether a request's socket is a handed-off one: already connected, nothing to wait for. */
  adopted(socket: Duplex): boolean {
    return this.#adopted.has(socket);
  }

  /** Drops pools that have been idle (no socket in use or wanted) for longer than the idle limit. */
  reap(): void {
    const now = this.clock();
    for (const [id, pool] of this.#pools) {
      if (now - pool.lastUsed < this.limits.idleMs || busy(pool.https) || busy(pool.http)) continue;
      pool.https.destroy();
      pool.http.destroy();
      this.#pools.delete(id);
    }
  }

  /** Sockets open upstream, in use or idle, over every sandbox. */
  openSockets(): number {
    let n = 0;
    for (const pool of this.#pools.values()) n += count(pool.https) + count(pool.http);
    return n;
  }

  pools(): number {
    return this.#pools.size;
  }

  destroy(): void {
    clearInterval(this.#reaper);
    for (const pool of this.#pools.values()) {
      pool.https.destroy();
      pool.http.destroy();
    }
    this.#pools.clear();
  }
}

function connectionKey(host: string | undefined, port: number | undefined, servername: string | undefined): string {
  return `${host ?? ''}|${port ?? 0}|${servername ?? ''}`;
}

/** The agent's next new connection to an origin is the handed-off one, when there is one. */
function adoptingHandedOff(agent: HttpsAgent, handed: Map<string, TLSSocket>, adopted: WeakSet<Duplex>): HttpsAgent {
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (options: { host?: string; port?: number; servername?: string }, callback?: (err: Error | null, socket: Duplex) => void) => {
    const key = connectionKey(options.host, Number(options.port), options.servername);
    const socket = handed.get(key);
    if (socket !== undefined && !socket.destroyed) {
      handed.delete(key);
      adopted.add(socket);
      return socket;
    }
    return create(options, callback);
  };
  return agent;
}

function busy(agent: HttpAgent): boolean {
  return Object.keys(agent.sockets).length > 0 || Object.keys(agent.requests).length > 0;
}

function count(agent: HttpAgent): number {
  let n = 0;
  for (const list of [...Object.values(agent.sockets), ...Object.values(agent.freeSockets)]) n += list?.length ?? 0;
  return n;
}

/**
 * A byte from the upstream on a connection with no request waiting is a response nobody asked
 * for (a late or unsolicited one): it would be read as the answer to the next request sent on
 * that connection. Such a connection is closed and never handed to anyone.
 */
function closeOnIdleData(this: Duplex): void {
  this.destroy();
}

/**
 * Makes an agent close any of its idle sockets that receives data. Node keeps a freed socket only
 * when keepSocketAlive returns true (the base class always does), and hands it back through
 * reuseSocket, where the listener comes off before the next request's parser takes over.
 */
function closingIdleData<A extends HttpAgent>(agent: A): A {
  const keep = agent.keepSocketAlive.bind(agent);
  const reuse = agent.reuseSocket.bind(agent);
  agent.keepSocketAlive = (socket) => {
    keep(socket);
    socket.on('data', closeOnIdleData);
    return true;
  };
  agent.reuseSocket = (socket, req) => {
    socket.off('data', closeOnIdleData);
    reuse(socket, req);
  };
  return agent;
}
