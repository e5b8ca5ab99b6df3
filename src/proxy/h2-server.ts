import { createServer, type Http2Session } from 'node:http2';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { handleH2Stream } from './adapters/h2-stream.js';
import type { ProxyDeps, TunnelContext } from './deps.js';
import { DEFAULT_H2_GUARD, H2Guard } from './h2-guard.js';

export interface H2Server {
  /** Serves HTTP/2 on a tunnel whose TLS handshake chose `h2`. */
  serve(tls: TLSSocket, tunnel: TunnelContext): void;
  close(): void;
}

/**
 * The sandbox side of HTTP/2: one non-listening server for every tunnel that negotiated h2, each
 * stream one Exchange (adapters/h2-stream.ts). Node bounds rapid reset, CONTINUATION floods, HPACK
 * bombs and SETTINGS/PING floods itself but logs none; the guard (h2-guard.ts) adds budgets of its
 * own and logs each event. The gateway also sets the concurrent-stream cap, a header list limit,
 * a per-session memory cap, the tunnel's idle deadline and per-stream deadlines.
 */
export function createH2Server(deps: ProxyDeps): H2Server {
  const sessions = new WeakMap<Http2Session, { tunnel: TunnelContext; guard: H2Guard }>();
  const open = new Set<Http2Session>();
  let arriving: { tunnel: TunnelContext; guard: H2Guard } | undefined;
  const server = createServer({
    settings: { maxConcurrentStreams: deps.limits.h2MaxStreams, maxHeaderListSize: 16 * 1024, enablePush: false },
    maxSessionMemory: 10,
    maxHeaderListPairs: 256,
    // Node's own bound on streams refused at the concurrency cap before it ends the session.
    maxSessionRejectedStreams: 100,
  });
  // 'session' fires synchronously inside emit('connection'): that is when a session meets its tunnel.
  server.on('session', (session) => {
    if (arriving === undefined) return void session.destroy();
    sessions.set(session, arriving);
    arriving.guard.session = session;
    open.add(session);
    session.once('close', () => open.delete(session));
    session.on('error', () => session.destroy());
    session.setTimeout(deps.limits.idleMs, () => session.close());
  });
  server.on('request', (req, res) => {
    const session = req.stream.session;
    const known = session === undefined ? undefined : sessions.get(session);
    if (known === undefined) return void req.stream.close();
    const ctx = known.tunnel;
    ctx.firstRequestDeadline.clear();
    ctx.requests += 1;
    handleH2Stream(deps, ctx, req, res, known.guard);
  });
  server.on('sessionError', () => undefined);
  return {
    serve(tls, tunnel) {
      // Node's HTTP/2 server does not read a TLS socket that it did not accept itself: bridge it
      // through a plain Duplex, which HTTP/2 reads through the stream interface. The guard sits
      // in that bridge, counting frames both ways (h2-guard.ts).
      const guard = new H2Guard(tls, tunnel, deps.logger, DEFAULT_H2_GUARD, deps.clock);
      const reader = guard.reader();
      tls.pipe(reader);
      const bridge = Duplex.from({ readable: reader, writable: guard.writer() });
      bridge.on('error', () => tls.destroy());
      tls.once('close', () => bridge.destroy());
      arriving = { tunnel, guard };
      try {
        server.emit('connection', bridge);
      } finally {
        arriving = undefined;
      }
    },
    close() {
      for (const s of open) s.destroy();
      server.close();
    },
  };
}
