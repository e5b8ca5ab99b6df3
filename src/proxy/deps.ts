import type { Logger } from '../logging/logger.js';
import type { LeafContextCache } from '../ca/types.js';
import type { PipelineDeps } from '../exchange/deps.js';
import type { NetLogWriter } from '../netlog/types.js';
import type { SandboxInfo } from '../model/secrets.js';
import type { CheckedAddress, Target } from '../model/target.js';
import type { Store } from '../store/types.js';
import type { SandboxConnections } from './connection-limit.js';
import type { SandboxAgents } from './upstream/sandbox-agents.js';
import type { UpstreamH2Sessions } from './upstream/h2-sessions.js';

/** Deadlines and bounds the proxy enforces itself (see NODE-PITFALLS: Node applies few of them). */
export interface ProxyLimits {
  /** From TCP accept to a complete CONNECT/plain request head. */
  headMs: number;
  /** TLS handshake with the sandbox. */
  handshakeMs: number;
  /** From the handshake to the first request head inside a tunnel. */
  firstRequestMs: number;
  /** A tunnel or upstream socket with no traffic either way. */
  idleMs: number;
  /** Connecting to the upstream (TCP + TLS). */
  upstreamConnectMs: number;
  /** Waiting for the upstream's response head. */
  upstreamResponseMs: number;
  /** Open client connections (tunnels and plain-HTTP) one sandbox may hold at once. */
  connectionsPerSandbox: number;
  /** Concurrent upstream sockets one sandbox may hold to one host; more requests queue. */
  upstreamSocketsPerHost: number;
  /** Largest request body a credential step reads whole. */
  maxBodyBytes: number;
  /** Concurrent streams one HTTP/2 connection from a sandbox may open (SETTINGS_MAX_CONCURRENT_STREAMS). */
  h2MaxStreams: number;
  /** An HTTP/2 stream from a sandbox with no frame either way for this long is reset (a window that never opens). */
  h2StreamIdleMs: number;
  /** An HTTP/2 stream from a sandbox open longer than this is reset (a stream that never ends). */
  h2StreamMaxMs: number;
}

export const DEFAULT_LIMITS: ProxyLimits = {
  headMs: 10_000,
  handshakeMs: 10_000,
  firstRequestMs: 15_000,
  idleMs: 120_000,
  upstreamConnectMs: 10_000,
  upstreamResponseMs: 300_000,
  connectionsPerSandbox: 512,
  upstreamSocketsPerHost: 64,
  maxBodyBytes: 1024 * 1024,
  h2MaxStreams: 100,
  h2StreamIdleMs: 300_000,
  h2StreamMaxMs: 3_600_000,
};

export interface ProxyDeps {
  /** Authentication of proxy credentials (the rest of the store is the pipeline's lookups). */
  store: Pick<Store, 'authenticateSandbox'>;
  pipeline: PipelineDeps;
  netlog: NetLogWriter;
  leaves: LeafContextCache;
  upstreams: SandboxAgents;
  /** Per-sandbox upstream HTTP/2 sessions; absent: every upstream is reached over HTTP/1.1. */
  upstreamH2?: UpstreamH2Sessions;
  logger: Logger;
  clock: () => number;
  limits: ProxyLimits;
  connections: SandboxConnections;
  /** Offer HTTP/2 to sandboxes (ALPN); HTTP/1.1 only when false. */
  http2: boolean;
}

/** What an intercepted tunnel was authorised for at CONNECT time. */
export interface TunnelContext {
  sandbox: SandboxInfo;
  target: Target;
  address: CheckedAddress;
  /** Between the handshake and the first request nothing else bounds a silent tunnel. */
  firstRequestDeadline: HeadDeadline;
  /** Requests seen on this tunnel (a tunnel with none is logged as a CONNECT row). */
  requests: number;
  /**
   * A self-test tunnel (`Standin-Check: 1` on CONNECT, what `sandbox check` opens): its requests
   * go through the whole pipeline and are answered by the gateway with what it would have sent,
   * never forwarded; no DNS or address check is made, since nothing is ever connected to.
   */
  check: boolean;
}

export interface HeadDeadline {
  arm(ms: number): void;
  clear(): void;
}
