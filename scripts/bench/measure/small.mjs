// Small-request throughput and latency over keep-alive connections at one concurrency level.
// For standin, also the network-log write rate during the measured window (rows/s) and the backlog
// (requests answered but not yet in the database) when the window ends and 1 s later.
import { runClient } from '../lib/client-runner.mjs';
import { readCpuMs } from '../lib/rss.mjs';
import { round } from '../lib/stats.mjs';
import { sleep } from '../lib/procs.mjs';

export async function measureSmall(cfg, col, concurrency) {
  const c = cfg.small;
  const counter = col.rowCounter;
  const sentBefore = col.sent;
  let rowsStart;
  let rowsEnd;
  let tStart;
  let tEnd;
  let cpuStart;
  let cpuEnd;
  const r = await runClient(
    { kind: 'keepalive', target: col.target, concurrency, maxRequests: c.maxRequests, durationMs: c.durationMs, warmupRequests: c.warmupRequests, warmupMs: c.warmupMs },
    {
      timeoutMs: c.durationMs + c.warmupMs + 60_000,
      onMessage: (m) => {
        if (m.type !== 'mark') return;
        if (m.name === 'start') {
          tStart = performance.now();
          rowsStart = counter?.count();
          cpuStart = col.pid ? readCpuMs(col.pid) : undefined;
        } else if (m.name === 'end') {
          tEnd = performance.now();
          rowsEnd = counter?.count();
          cpuEnd = col.pid ? readCpuMs(col.pid) : undefined;
        }
      },
    },
  );
  col.sent += r.sent;
  const lat = r.latency;
  const out = {
    concurrency,
    rps: round(r.rps, 1),
    p50: lat.p50,
    p99: lat.p99,
    mean: lat.mean,
    max: lat.max,
    ok: r.ok,
    failed: r.failed,
    failedIncludingWarmup: r.failedTotal,
    swapMissing: r.swapMissing,
    sent: r.sent,
    errors: r.errors,
  };
  if (cpuStart !== undefined && cpuEnd !== undefined && r.ok > 0) out.gatewayCpuUsPerRequest = round(((cpuEnd - cpuStart) * 1000) / r.ok, 1);
  if (counter && rowsStart !== undefined && rowsEnd !== undefined) {
    await sleep(1_000);
    const rowsLater = counter.count();
    const expected = sentBefore + r.sent;
    out.netlog = {
      rowsPerSec: round(((rowsEnd - rowsStart) / (tEnd - tStart)) * 1000, 1),
      backlogAtEnd: expected - rowsEnd,
      backlogAfter1s: expected - rowsLater,
    };
  }
  return out;
}
