import type { NetLogRow, NetLogWriter } from '../netlog/types.js';

/**
 * A small Prometheus registry (text exposition format 0.0.4), served on the control listener at
 * /metrics. Counters and the latency histogram are fed from the network-log rows (every request,
 * tunnel and refusal produces exactly one, see `instrumentNetLog`); gauges read their value at
 * scrape time from functions the owner of the number registers (`setGauge`).
 *
 * Labels are bounded by construction: decisions and error codes are fixed enums, route labels come
 * from the control route table. Never a host, path or sandbox name (unbounded, and sandbox input).
 */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
}

class Counter {
  readonly values = new Map<string, { labels: Labels; value: number }>();
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    const cur = this.values.get(key);
    if (cur === undefined) this.values.set(key, { labels, value: by });
    else cur.value += by;
  }
}

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count += 1;
    for (let i = 0; i < this.buckets.length; i++) if (v <= (this.buckets[i] ?? Infinity)) this.counts[i] = (this.counts[i] ?? 0) + 1;
  }
}

export type GaugeName = 'open_connections' | 'open_tunnels' | 'netlog_queue_depth' | 'cert_cache_size';

const GAUGE_HELP: Record<GaugeName, string> = {
  open_connections: 'Client connections open on the proxy port',
  open_tunnels: 'CONNECT tunnels open (intercepted and passthrough)',
  netlog_queue_depth: 'Network-log rows queued and not yet written',
  cert_cache_size: 'Leaf TLS contexts cached (one per intercepted host)',
};

export class Metrics {
  readonly requests = new Counter();
  readonly swaps = new Counter();
  readonly refusals = new Counter();
  readonly controlRequests = new Counter();
  readonly latency = new Histogram(LATENCY_BUCKETS_S);
  readonly #gauges = new Map<GaugeName, () => number | undefined>();
  readonly #startedAt: number;

  constructor(clock: () => number = Date.now) {
    this.#startedAt = clock() / 1000;
  }

  /** Registers where a gauge's value comes from; read at every scrape. */
  setGauge(name: GaugeName, read: () => number | undefined): void {
    this.#gauges.set(name, read);
  }

  /** One network-log row: one request, tunnel or refusal. */
  observeExchange(row: Pick<NetLogRow, 'decision' | 'secrets' | 'errorCode' | 'durationMs' | 'method'>): void {
    this.requests.inc({ decision: row.decision, kind: row.method === 'CONNECT' ? 'tunnel' : 'request' });
    if (row.decision === 'swapped') this.swaps.inc({}, Math.max(1, row.secrets.length));
    if ((row.decision === 'denied' || row.decision === 'token_misuse') && row.errorCode !== null) this.refusals.inc({ reason: row.errorCode });
    this.latency.observe(Math.max(0, row.durationMs) / 1000);
  }

  observeControl(operation: string, status: number): void {
    this.controlRequests.inc({ operation, status: String(status) });
  }

  render(): string {
    const out: string[] = [];
    const family = (f: Family): void => void out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    const counter = (name: string, help: string, c: Counter): void => {
      family({ name, help, type: 'counter' });
      if (c.values.size === 0 && name !== 'standin_refusals_total') out.push(`${name} 0`);
      for (const { labels, value } of c.values.values()) out.push(`${name}${fmtLabels(labels)} ${value}`);
    };
    counter('standin_requests_total', 'Requests and tunnels handled, by decision (allowed, swapped, denied, token_misuse, error)', this.requests);
    counter('standin_swaps_total', 'Credentials swapped into outgoing requests', this.swaps);
    counter('standin_refusals_total', 'Refused requests and tunnels, by reason (GatewayError code)', this.refusals);
    family({ name: 'standin_request_duration_seconds', help: 'Time from request start to the last response byte (or the refusal)', type: 'histogram' });
    for (let i = 0; i < this.latency.buckets.length; i++) out.push(`standin_request_duration_seconds_bucket{le="${this.latency.buckets[i]}"} ${this.latency.counts[i]}`);
    out.push(`standin_request_duration_seconds_bucket{le="+Inf"} ${this.latency.count}`);
    out.push(`standin_request_duration_seconds_sum ${round(this.latency.sum)}`, `standin_request_duration_seconds_count ${this.latency.count}`);
    for (const [name, read] of this.#gauges) {
      let v: number | undefined;
      try {
        v = read();
      } catch {
        v = undefined;
      }
      if (v === undefined || !Number.isFinite(v)) continue;
      family({ name: `standin_${name}`, help: GAUGE_HELP[name], type: 'gauge' });
      out.push(`standin_${name} ${v}`);
    }
    counter('standin_control_requests_total', 'Control API requests, by operation and status', this.controlRequests);
    family({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes', type: 'gauge' });
    out.push(`process_resident_memory_bytes ${process.memoryUsage.rss()}`);
    family({ name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch in seconds', type: 'gauge' });
    out.push(`process_start_time_seconds ${round(this.#startedAt)}`);
    return `${out.join('\n')}\n`;
  }
}

/** Counts every row written to the network log; the writer itself is unchanged. */
export function instrumentNetLog(writer: NetLogWriter, metrics: Metrics): NetLogWriter {
  return {
    record: (row) => {
      writer.record(row);
      metrics.observeExchange(row);
    },
    flush: () => writer.flush(),
    pending: () => writer.pending(),
    close: () => writer.close(),
  };
}

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',');
}

function fmtLabels(labels: Labels): string {
  const parts = Object.keys(labels).sort().map((k) => `${k}="${(labels[k] ?? '').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
