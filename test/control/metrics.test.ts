import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/control/metrics.js';
import type { GatewayErrorCode } from '../../src/errors.js';

// /metrics on prom-client: today's families and labels, plus the process and Node runtime ones.
const row = { decision: 'denied' as const, secrets: [] as string[], errorCode: 'GW_PROXY_AUTH' as GatewayErrorCode | null, durationMs: 12, method: 'CONNECT' };

describe('metrics', () => {
  it('keeps the families, names and bounded labels of the hand-written registry', async () => {
    const m = new Metrics();
    m.observeExchange(row);
    m.observeExchange({ ...row, decision: 'swapped', secrets: ['a@1', 'b@2'], errorCode: null, method: 'GET' });
    m.observeControl('listSecrets', 200);
    m.setGauge('netlog_queue_depth', () => 7);
    m.setGauge('open_tunnels', () => 2);
    const text = await m.render();
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toMatch(/^standin_requests_total\{decision="denied",kind="tunnel"\} 1$/m);
    expect(text).toMatch(/^standin_requests_total\{decision="swapped",kind="request"\} 1$/m);
    expect(text).toMatch(/^standin_swaps_total 2$/m);
    expect(text).toMatch(/^standin_refusals_total\{reason="GW_PROXY_AUTH"\} 1$/m);
    expect(text).toMatch(/^# TYPE standin_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^standin_request_duration_seconds_bucket\{le="0\.025"\} 2$/m);
    expect(text).toMatch(/^standin_request_duration_seconds_count 2$/m);
    expect(text).toMatch(/^standin_control_requests_total\{operation="listSecrets",status="200"\} 1$/m);
    expect(text).toMatch(/^standin_netlog_queue_depth 7$/m);
    expect(text).toMatch(/^standin_open_tunnels 2$/m);
    // A gauge nobody registered is not shown.
    expect(text).not.toMatch(/standin_cert_cache_size/);
  });

  it('adds process and Node runtime metrics: CPU, memory, heap, GC, handles, event-loop lag and utilisation', async () => {
    const text = await new Metrics().render();
    for (const family of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'process_open_fds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
      'nodejs_active_handles_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_eventloop_utilization_ratio',
      'nodejs_version_info',
    ]) {
      expect(text, family).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
    }
    const elu = Number(/^nodejs_eventloop_utilization_ratio (\S+)$/m.exec(text)?.[1]);
    expect(elu).toBeGreaterThanOrEqual(0);
    expect(elu).toBeLessThanOrEqual(1);
  });

  it('counts per instance: two gateways in one process never share a registry', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.observeExchange(row);
    expect(await a.render()).toMatch(/^standin_requests_total\{decision="denied",kind="tunnel"\} 1$/m);
    expect(await b.render()).not.toMatch(/^standin_requests_total\{/m);
  });

  it('shows a failing or unknown gauge as NaN instead of failing the scrape', async () => {
    const m = new Metrics();
    m.setGauge('cert_cache_size', () => {
      throw new Error('gone');
    });
    m.setGauge('open_connections', () => undefined);
    const text = await m.render();
    expect(text).toMatch(/^# TYPE standin_requests_total counter$/m);
    // prom-client writes `Nan`; Prometheus parses NaN in any case.
    expect(text).toMatch(/^standin_cert_cache_size nan$/im);
    expect(text).toMatch(/^standin_open_connections nan$/im);
  });
});
