import { DEFAULT_LIMITS, type ProxyLimits } from '../proxy/deps.js';

/**
 * The per-sandbox limits one of `workers` workers enforces, so that together they never exceed
 * the configured totals: each worker holds an equal share (rounded down, at least 1), counted
 * locally with no IPC on the request path. Connections are dealt to workers round-robin, so a
 * sandbox's connections spread evenly and the shares fill together; a sandbox whose connections
 * happen to land unevenly is refused (or queued, for upstream sockets) a little before the total.
 * With a total below the number of workers each worker still allows one: the total is then
 * `workers`, not the configured value (said in `serve --help`'s README section).
 */
export function workerLimits(workers: number, configured: { upstreamSocketsPerHost?: number | undefined }): Pick<ProxyLimits, 'connectionsPerSandbox' | 'upstreamSocketsPerHost'> {
  const share = (total: number): number => Math.max(1, Math.floor(total / workers));
  return {
    connectionsPerSandbox: share(DEFAULT_LIMITS.connectionsPerSandbox),
    upstreamSocketsPerHost: share(configured.upstreamSocketsPerHost ?? DEFAULT_LIMITS.upstreamSocketsPerHost),
  };
}
