import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NetLogRow, NetLogWriter } from '../netlog/types.js';

/**
 * The gateway's Prometheus metrics (prom-client), served on the control listener at /metrics:
 * the request path's families, the control API's, and prom-client's default process and Node
 * runtime metrics (CPU, memory, heap, GC, handles, event-loop lag) plus event-loop utilisation.
 * One registry per instance, never prom-client's global one: two gateways in one process (tests)
 * count apart.
 *
 * Counters and the latency histogram are fed from the network-log rows (every request, tunnel and
 * refusal produces exactly one, see `instrumentNetLog`); gauges read their value at scrape time
 * from functions the owner of the number registers (`setGauge`).
 *
 * Labels are bounded by construction: decisions and error codes are fixed enums, operations come
 * from the control route table. Never a host, path or sandbox name (unbounded, and sandbox input).
 */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type GaugeName =
  | 'open_connections'
  | 'open_tunnels'
  | 'netlog_queue_depth'
  | 'cert_cache_size'
  | 'netlog_spool_rows'
  | 'netlog_spool_bytes'
  | 'netlog_spool_oldest_age_seconds'
  | 'store_snapshot_age_seconds';

const GAUGE_HELP: Record<GaugeName, string> = {
  open_connections: 'Client connections open on the proxy port',
  open_tunnels: 'CONNECT tunnels open (intercepted and passthrough)',
  netlog_queue_depth: 'Network-log rows queued and not yet written',
  store_snapshot_age_seconds: 'Seconds since the request path\'s store snapshot was last confirmed current (0 on SQLite)',
  cert_cache_size: 'Leaf TLS contexts cached (one per intercepted host)',
  netlog_spool_rows: 'Network-log rows in the on-disk spool, waiting for PostgreSQL',
  netlog_spool_bytes: 'Bytes of the on-disk network-log spool (refusals start at its bound)',
  netlog_spool_oldest_age_seconds: 'Age of the oldest spooled network-log row (0 when the spool is empty)',
};

export class Metrics {
  readonly #registry = new Registry();
  readonly #requests = new Counter({
    name: 'standin_requests_total',
    help: 'Requests and tunnels handled, by decision (allowed, swapped, denied, token_misuse, error)',
    labelNames: ['decision', 'kind'] as const,
    registers: [this.#registry],
  });
  readonly #swaps = new Counter({ name: 'standin_swaps_total', help: 'Credentials swapped into outgoing requests', registers: [this.#registry] });
  readonly #refusals = new Counter({
    name: 'standin_refusals_total',
    help: 'Refused requests and tunnels, by reason (GatewayError code)',
    labelNames: ['reason'] as const,
    registers: [this.#registry],
  });
  readonly #latency = new Histogram({
    name: 'standin_request_duration_seconds',
    help: 'Time from request start to the last response byte (or the refusal)',
    buckets: LATENCY_BUCKETS_S,
    registers: [this.#registry],
  });
  readonly #control = new Counter({
    name: 'standin_control_requests_total',
    help: 'Control API requests, by operation and status',
    labelNames: ['operation', 'status'] as const,
    registers: [this.#registry],
  });
  readonly #gauges = new Map<GaugeName, () => number | undefined>();

  constructor() {
    collectDefaultMetrics({ register: this.#registry });
    // Busy share of the event loop since the previous scrape (lag alone misses a loop that is
    // saturated by many short tasks).
    let last: EventLoopUtilization = performance.eventLoopUtilization();
    new Gauge({
      name: 'nodejs_eventloop_utilization_ratio',
      help: 'Share of time the event loop was busy since the previous scrape (0..1)',
      registers: [this.#registry],
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, last).utilization);
        last = now;
      },
    });
  }

  /** Media type of `render()`'s text (exposition format 0.0.4). */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Registers where a gauge's value comes from; read at every scrape, NaN while it has none. */
  setGauge(name: GaugeName, read: () => number | undefined): void {
    const first = !this.#gauges.has(name);
    this.#gauges.set(name, read);
    if (!first) return;
    const gauges = this.#gauges;
    new Gauge({
      name: `standin_${name}`,
      help: GAUGE_HELP[name],
      registers: [this.#registry],
      collect() {
        let v: number | undefined;
        try {
          v = gauges.get(name)?.();
        } catch {
          v = undefined;
        }
        // NaN is Prometheus' "no sample" (a gap in graphs), unlike a 0 that would look like a value.
        this.set(v === undefined || !Number.isFinite(v) ? Number.NaN : v);
      },
    });
  }

  /** One network-log row: one request, tunnel or refusal. */
  observeExchange(row: Pick<NetLogRow, 'decision' | 'secrets' | 'errorCode' | 'durationMs' | 'method'>): void {
    this.#requests.inc({ decision: row.decision, kind: row.method === 'CONNECT' ? 'tunnel' : 'request' });
    if (row.decision === 'swapped') this.#swaps.inc(Math.max(1, row.secrets.length));
    if ((row.decision === 'denied' || row.decision === 'token_misuse') && row.errorCode !== null) this.#refusals.inc({ reason: row.errorCode });
    this.#latency.observe(Math.max(0, row.durationMs) / 1000);
  }

  observeControl(operation: string, status: number): void {
    this.#control.inc({ operation, status: String(status) });
  }

  /** The exposition text. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }
}

/** Counts every row written to the network log; the writer itself is unchanged. */
export function instrumentNetLog(writer: NetLogWriter, metrics: Metrics): NetLogWriter {
  return {
    record: (row) => {
      writer.record(row);
      // The row written when a request is forwarded is completed later: count the exchange once.
      if (row.complete !== false) metrics.observeExchange(row);
    },
    flush: () => writer.flush(),
    pending: () => writer.pending(),
    close: () => writer.close(),
    ...(writer.accepting === undefined ? {} : { accepting: () => writer.accepting?.() ?? true }),
    ...(writer.spooled === undefined ? {} : { spooled: () => writer.spooled?.() ?? { rows: 0, bytes: 0, oldestAt: undefined } }),
  };
}
