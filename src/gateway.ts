import { createSecureContext, rootCertificates } from 'node:tls';
import type { CertificateAuthority } from './ca/types.js';
import { createLeafContextCache } from './ca/leaf-cache.js';
import type { Logger } from './logging/logger.js';
import type { NetLogWriter } from './netlog/types.js';
import type { AllowDest } from './policy/types.js';
import { DEFAULT_LIMITS, type ProxyLimits } from './proxy/deps.js';
import { createProxyServer } from './proxy/server.js';
import { SandboxConnections } from './proxy/connection-limit.js';
import { SecretValueCache } from './proxy/secret-cache.js';
import { SandboxAgents } from './proxy/upstream/sandbox-agents.js';
import { DEFAULT_H2_SESSION_LIMITS, UpstreamH2Sessions } from './proxy/upstream/h2-sessions.js';
import { tokenPoster } from './proxy/token-endpoint.js';
import { SecretValue } from './secret-value.js';
import { AccessTokens } from './swap/access-tokens.js';
import { ReflectionCache } from './swap/reflection-cache.js';
import { SCHEMES } from './swap/schemes/registry.js';
import { networkInterfaces } from 'node:os';
import type { RequestStore } from './store/store-api.js';

export interface GatewayOptions {
  listen: { host: string; port: number };
  /** What the request path reads (from memory), and the one write it makes (OAuth2 refresh tokens). */
  store: GatewayStore;
  netlog: NetLogWriter;
  ca: CertificateAuthority;
  /** Extra PEM certificates trusted for upstream TLS, on top of the system roots. */
  upstreamCa: string[];
  resolve: ReadonlyMap<string, string>;
  allowDest: readonly AllowDest[];
  logger: Logger;
  clock?: () => number;
  limits?: Partial<ProxyLimits>;
  /** Offer HTTP/2 to sandboxes (default true). */
  http2?: boolean;
  /** How long values of an unbound (or replaced) secret are still scrubbed for its sandbox; default 7 days. */
  unboundScrubMs?: number;
  /** Bound on cached leaf contexts (one per host seen). */
  leafCacheSize?: number;
  /**
   * Ports of this process that sandboxes must never reach through the proxy (the control API's);
   * the proxy's own port is added to it once listening. Read live, so it can grow after start.
   */
  selfPorts?: Set<number>;
}

export interface GatewayStore extends RequestStore {
  rotateSecretIfCurrent(secretId: string, environment: string, fromVersion: number, value: SecretValue, actor: string, reason: string): Promise<number | undefined> | number | undefined;
}

export interface Gateway {
  readonly address: { host: string; port: number };
  /** Stops accepting, waits briefly for open exchanges, flushes the network log. */
  close(): Promise<void>;
  /** Gauges for the metrics endpoint. */
  stats(): { openConnections: number; openTunnels: number; leafCacheSize: number; upstreamSockets: number; upstreamPools: number };
}

const SHUTDOWN_GRACE_MS = 5_000;
export const DEFAULT_UNBOUND_SCRUB_MS = 7 * 24 * 3_600_000;

function interfaceAddresses(): Set<string> {
  const all = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) all.add(i.address);
  return all;
}

/** Wires the parts together from explicit dependencies and starts listening. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const clock = options.clock ?? Date.now;
  // Upstream TLS is always verified; the name checked is the CONNECT target's (open-upstream.ts).
  // One context, built once: given `ca` instead, an agent re-parses ~150 roots for every new
  // connection and rebuilds a 300 KB pool key (it includes the CA text) three times per request.
  const secureContext = createSecureContext({ ca: [...rootCertificates, ...options.upstreamCa], minVersion: 'TLSv1.2' });
  const upstreams = new SandboxAgents(
    secureContext,
    { socketsPerHost: limits.upstreamSocketsPerHost, freeSocketsPerHost: limits.upstreamSocketsPerHost, idleMs: Math.min(30_000, limits.idleMs) },
    clock,
  );
  // HTTP/2 upstream where the origin selects it by ALPN (off with HTTP/2 itself: --no-http2).
  const http2 = options.http2 ?? true;
  const upstreamH2 = http2
    ? new UpstreamH2Sessions(secureContext, { ...DEFAULT_H2_SESSION_LIMITS, idleMs: Math.min(30_000, limits.idleMs), connectMs: limits.upstreamConnectMs }, clock)
    : undefined;
  const selfPorts = options.selfPorts ?? new Set<number>();
  const leaves = createLeafContextCache(options.ca, { max: options.leafCacheSize ?? 2_000, clock });
  const secretValues = new SecretValueCache(1_000, (id, version) => options.store.secretValue(id, version));
  const resolver = { overrides: options.resolve, allowDest: options.allowDest };
  const self = { ports: selfPorts, addresses: interfaceAddresses() };
  const accessTokens = new AccessTokens({
    post: tokenPoster({ agents: upstreams, resolver, self, timeoutMs: Math.min(limits.upstreamResponseMs, 30_000) }),
    persist: (id, environment, from, value) =>
      options.store.rotateSecretIfCurrent(id, environment, from, new SecretValue(value), 'gateway', 'oauth2 refresh token rotated by the provider'),
    clock,
    warn: (message, fields) => options.logger.warn(fields, message),
  });
  const proxy = createProxyServer({
    store: options.store,
    pipeline: {
      lookups: options.store,
      secretValue: (id, version) => secretValues.get(id, version),
      reflections: new ReflectionCache(1_000),
      schemes: SCHEMES,
      resolver,
      self,
      clock,
      maxBodyBytes: limits.maxBodyBytes,
      unboundScrubMs: options.unboundScrubMs ?? DEFAULT_UNBOUND_SCRUB_MS,
      accessTokens,
    },
    netlog: options.netlog,
    leaves,
    upstreams,
    upstreamH2,
    logger: options.logger,
    clock,
    limits,
    connections: new SandboxConnections(limits.connectionsPerSandbox),
    http2,
  });
  const address = await proxy.listen(options.listen.host, options.listen.port);
  selfPorts.add(address.port);
  options.logger.info({ host: address.host, port: address.port }, 'proxy listening');
  return {
    address,
    stats: () => ({
      openConnections: proxy.openConnections(),
      openTunnels: proxy.openTunnels(),
      leafCacheSize: leaves.size(),
      upstreamSockets: upstreams.openSockets(),
      upstreamPools: upstreams.pools(),
    }),
    close: async () => {
      await proxy.close(SHUTDOWN_GRACE_MS);
      upstreams.destroy();
      upstreamH2?.destroy();
      await options.netlog.flush();
    },
  };
}
