// "New connection": one fresh (tunnel +) TLS connection per request to the same host.
// "New host": the first request to each of many never-seen host names (h0.standin.test, ...), so
// the gateway mints a certificate for every request.
import { runClient } from '../lib/client-runner.mjs';
import { summarise } from '../lib/stats.mjs';

export async function measureFresh(cfg, col, which) {
  const c = cfg[which];
  const job =
    which === 'newhost'
      ? { kind: 'fresh', target: col.target, hosts: cfg.newHosts, count: c.count, durationMs: c.durationMs, warmup: c.warmup }
      : { kind: 'fresh', target: col.target, count: c.count, durationMs: c.durationMs, warmup: c.warmup };
  const r = await runClient(job, { timeoutMs: c.durationMs + 60_000 });
  col.sent += r.sent;
  const total = summarise(r.total);
  return {
    p50: total.p50,
    p99: total.p99,
    mean: total.mean,
    max: total.max,
    ok: r.ok,
    failed: r.failed,
    swapMissing: r.swapMissing,
    connectP50: summarise(r.connect).p50,
    tlsP50: summarise(r.tls).p50,
    errors: r.errors,
  };
}
