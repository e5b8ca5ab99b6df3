import { connect, constants, type ClientHttp2Session } from 'node:http2';
import type { SecureContext, TLSSocket } from 'node:tls';
import { dialUpstream } from './dial.js';
import type { UpstreamTarget } from './open-upstream.js';

/** Bounds of the per-sandbox upstream HTTP/2 sessions. */
export interface H2SessionLimits {
  /** A session with no open stream for this long is closed. */
  idleMs: number;
  /** How long an origin that chose HTTP/1.1 is remembered (no ALPN probe meanwhile). */
  http1MemoryMs: number;
  connectMs: number;
  /** Origins one sandbox may hold an upstream h2 session to at once (more go over HTTP/1.1). */
  sessionsPerSandbox: number;
}

export const DEFAULT_H2_SESSION_LIMITS: H2SessionLimits = { idleMs: 30_000, http1MemoryMs: 300_000, connectMs: 10_000, sessionsPerSandbox: 64 };

/** How one request goes upstream: on a shared h2 session, or HTTP/1.1 (on the socket just dialled, if any). */
export type UpstreamRoute = { kind: 'h2'; session: ClientHttp2Session } | { kind: 'h1'; socket?: TLSSocket };

interface SandboxSessions {
  sessions: Map<string, ClientHttp2Session>;
  pending: Map<string, Promise<UpstreamRoute>>;
  /** Origins that answered ALPN with HTTP/1.1 (or nothing), until when. */
  http1: Map<string, number>;
  lastUsed: number;
}

/**
 * Upstream HTTP/2 sessions that belong to one sandbox, beside its HTTP/1.1 agents
 * (sandbox-agents.ts) and for the same reason: streams of one sandbox share a session to an
 * origin, streams of two sandboxes never do, so a server's per-connection state, its
 * concurrency limit and its flow-control windows are never shared across sandboxes (or tenants).
 * An origin is asked once by ALPN; one that picks HTTP/1.1 is remembered and reached through the
 * agents. Dials are single-flight per sandbox and origin.
 */
export class UpstreamH2Sessions {
  readonly #sandboxes = new Map<string, SandboxSessions>();
  readonly #reaper: NodeJS.Timeout;

  constructor(
    private readonly secureContext: SecureContext,
    private readonly limits: H2SessionLimits,
    private readonly clock: () => number,
  ) {
    this.#reaper = setInterval(() => this.reap(), Math.max(1_000, Math.min(limits.idleMs, 30_000)));
    this.#reaper.unref();
  }

  /**
   * Whether this origin is known to speak HTTP/1.1 only (then the agents take the request at
   * once). Each use extends the memory: an origin in use is not probed again (the probe's socket
   * would find the agent's keep-alive sockets already there).
   */
  knownHttp1(to: UpstreamTarget): boolean {
    const sb = this.#sandboxes.get(to.sandboxId);
    const key = originKey(to);
    const until = sb?.http1.get(key);
    const now = this.clock();
    if (sb === undefined || until === undefined || until <= now) return false;
    sb.http1.set(key, now + this.limits.http1MemoryMs);
    sb.lastUsed = now;
    return true;
  }

  /**
   * Starts the ALPN dial to an origin this sandbox has no session, memory or dial for, when its
   * tunnel opens: the upstream handshake then runs while the sandbox's own TLS handshake with the
   * gateway does, not after its first request arrives. The dial is the one `route` would make
   * (pinned, verified, single-flight): a request arriving meanwhile waits for it, and a socket
   * that picked HTTP/1.1 goes to `handOff` (the sandbox's pool), as a probe's does.
   */
  warm(to: UpstreamTarget, handOff: (socket: TLSSocket) => void): void {
    const sb = this.#sandboxes.get(to.sandboxId);
    const key = originKey(to);
    if (sb !== undefined && (sb.sessions.has(key) || sb.http1.has(key) || sb.pending.has(key))) return;
    if (sb !== undefined && sb.sessions.size >= this.limits.sessionsPerSandbox) return;
    this.route(to).then(
      (r) => {
        if (r.kind === 'h1' && r.socket !== undefined) handOff(r.socket);
      },
      // The request that follows meets the same failure through route() and answers with it.
      () => undefined,
    );
  }

  /** The route for one request: a live session of this sandbox, else a new dial, shared by concurrent callers. */
  route(to: UpstreamTarget): Promise<UpstreamRoute> {
    const sb = this.#sandbox(to.sandboxId);
    const key = originKey(to);
    const live = sb.sessions.get(key);
    if (live !== undefined && usable(live)) return Promise.resolve({ kind: 'h2', session: live });
    if (sb.http1.has(key) && this.knownHttp1(to)) return Promise.resolve({ kind: 'h1' });
    if (sb.sessions.size >= this.limits.sessionsPerSandbox) return Promise.resolve({ kind: 'h1' });
    const waiting = sb.pending.get(key);
    // A concurrent caller that finds HTTP/1.1 gets the agents: the dialled socket serves one request.
    if (waiting !== undefined) return waiting.then((r) => (r.kind === 'h2' ? r : { kind: 'h1' }));
    const dial = this.#dial(sb, key, to).finally(() => sb.pending.delete(key));
    sb.pending.set(key, dial);
    return dial;
  }

  async #dial(sb: SandboxSessions, key: string, to: UpstreamTarget): Promise<UpstreamRoute> {
    const socket = await dialUpstream(to, this.secureContext, this.limits.connectMs);
    if (socket.alpnProtocol !== 'h2') {
      sb.http1.set(key, this.clock() + this.limits.http1MemoryMs);
      return { kind: 'h1', socket };
    }
    const session = connect(`https://${to.target.kind === 'ipv6' ? `[${to.target.host}]` : to.target.host}:${to.target.port}`, {
      createConnection: () => socket,
      // What one upstream may make the gateway hold for this session (HPACK tables, queued frames).
      maxSessionMemory: 10,
      maxHeaderListPairs: 256,
      settings: { enablePush: false, maxHeaderListSize: 64 * 1024 },
    });
    session.on('error', () => session.destroy());
    const drop = (): void => {
      if (sb.sessions.get(key) === session) sb.sessions.delete(key);
    };
    session.once('close', drop);
    session.once('goaway', drop);
    // Idle: no frame either way for this long (an open stream with traffic keeps it alive).
    session.setTimeout(this.limits.idleMs, () => {
      drop();
      session.close();
    });
    sb.sessions.set(key, session);
    return { kind: 'h2', session };
  }

  #sandbox(id: string): SandboxSessions {
    let sb = this.#sandboxes.get(id);
    if (sb === undefined) {
      sb = { sessions: new Map(), pending: new Map(), http1: new Map(), lastUsed: 0 };
      this.#sandboxes.set(id, sb);
    }
    sb.lastUsed = this.clock();
    return sb;
  }

  /** Forgets sandboxes with nothing open for longer than the idle limit. */
  reap(): void {
    const now = this.clock();
    for (const [id, sb] of this.#sandboxes) {
      for (const [key, until] of sb.http1) if (until <= now) sb.http1.delete(key);
      if (sb.sessions.size > 0 || sb.pending.size > 0 || sb.http1.size > 0 || now - sb.lastUsed < this.limits.idleMs) continue;
      this.#sandboxes.delete(id);
    }
  }

  /** Open upstream h2 sessions, over every sandbox. */
  openSessions(): number {
    let n = 0;
    for (const sb of this.#sandboxes.values()) n += sb.sessions.size;
    return n;
  }

  destroy(): void {
    clearInterval(this.#reaper);
    for (const sb of this.#sandboxes.values()) for (const s of sb.sessions.values()) s.destroy();
    this.#sandboxes.clear();
  }
}

function usable(s: ClientHttp2Session): boolean {
  return !s.closed && !s.destroyed;
}

/** What a session is bound to besides its sandbox: the pinned address, port and certificate name. */
function originKey(to: UpstreamTarget): string {
  return `${to.address.address}|${to.target.port}|${to.target.host}`;
}

export const H2_NO_ERROR = constants.NGHTTP2_NO_ERROR;
