
/** What a worker's gateway reports for the metrics gauges (summed over workers by the primary). */
export interface WorkerStats {
  openConnections: number;
  openTunnels: number;
  leafCacheSize: number;
  upstreamSockets: number;
  upstreamPools: number;
}

/**
 * Messages from a proxy worker to the primary, over the cluster IPC channel (structured clone).
 * Rows do not travel here but in files (row-file.ts): a message per row woke the primary per row.
 */
export type WorkerMessage =
  | { t: 'listening'; host: string; port: number }
  | { t: 'stats'; stats: WorkerStats }
  /** Start-up failed: the CLI's lines for it (describeError: no value, no stack) and exit code. */
  | { t: 'fatal'; lines: string[]; exitCode: number }
  /** Drained: every row was written before this. */
  | { t: 'bye' };

/**
 * Messages from the primary to a worker: the ports the proxy must refuse, and whether the one
 * network-log writer (the primary's) can keep rows — false while PostgreSQL is away and the spool
 * is at its bound, when every worker refuses new exchanges as a single process would.
 */
export type PrimaryMessage = { t: 'selfPorts'; ports: number[] } | { t: 'logAccepting'; accepting: boolean };

const isObject = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The messages a worker may send, checked field by field (a malformed one is ignored, not trusted). */
export function asWorkerMessage(m: unknown): WorkerMessage | undefined {
  if (!isObject(m)) return undefined;
  switch (m.t) {
    case 'listening':
      return typeof m.host === 'string' && isCount(m.port) ? { t: 'listening', host: m.host, port: m.port } : undefined;
    case 'stats': {
      const s = m.stats;
      if (!isObject(s)) return undefined;
      const stats = { openConnections: s.openConnections, openTunnels: s.openTunnels, leafCacheSize: s.leafCacheSize, upstreamSockets: s.upstreamSockets, upstreamPools: s.upstreamPools };
      return Object.values(stats).every(isCount) ? { t: 'stats', stats: stats as WorkerStats } : undefined;
    }
    case 'fatal':
      return Array.isArray(m.lines) && m.lines.every((l) => typeof l === 'string') && isCount(m.exitCode)
        ? { t: 'fatal', lines: (m.lines as string[]).slice(0, 20), exitCode: m.exitCode }
        : undefined;
    case 'bye':
      return { t: 'bye' };
    default:
      return undefined;
  }
}

export function asPrimaryMessage(m: unknown): PrimaryMessage | undefined {
  if (!isObject(m)) return undefined;
  if (m.t === 'logAccepting') return typeof m.accepting === 'boolean' ? { t: 'logAccepting', accepting: m.accepting } : undefined;
  if (m.t !== 'selfPorts' || !Array.isArray(m.ports) || !m.ports.every(isCount)) return undefined;
  return { t: 'selfPorts', ports: m.ports as number[] };
}


/** A worker that failed before it listened: the lines it would have printed, and its exit code. */
export class WorkerStartError extends Error {
  constructor(
    readonly lines: string[],
    readonly exitCode: number,
  ) {
    super('a proxy worker could not start');
  }
}
