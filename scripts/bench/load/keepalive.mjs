// Small requests over keep-alive connections at a fixed concurrency: `concurrency` workers, each
// sending its next request as soon as the previous one is answered, over a pool of exactly
// `concurrency` connections (tunnels). A warm-up opens the connections first; then the measured
// window runs until maxRequests are sent OR durationMs has passed, whichever comes first.
import { summarise } from '../lib/stats.mjs';
import { makeDispatcher, origin } from './targets.mjs';

export async function keepalive(job, emit) {
  const { target, concurrency, maxRequests, durationMs, warmupRequests, warmupMs, path = '/small' } = job;
  const dispatcher = makeDispatcher(target, { connections: concurrency });
  const o = origin(target);
  const headers = { authorization: target.creds[0].authorization };
  const errors = [];
  let sent = 0;
  let failed = 0;
  let swapMissing = 0;

  const phase = async (max, ms, latencies) => {
    let issued = 0;
    let done = 0;
    const deadline = performance.now() + ms;
    const worker = async () => {
      while (issued < max && performance.now() < deadline) {
        issued += 1;
        sent += 1;
        const t0 = performance.now();
        try {
          const { statusCode, body } = await dispatcher.request({ origin: o, path, method: 'GET', headers });
          const text = await body.text();
          const ms = performance.now() - t0;
          if (statusCode !== 200) {
            failed += 1;
            if (errors.length < 5) errors.push(`status ${statusCode}: ${text.slice(0, 200)}`);
          } else {
            if (!text.includes('"auth":"real"')) swapMissing += 1;
            if (latencies) latencies[done] = ms;
            done += 1;
          }
        } catch (e) {
          failed += 1;
          if (errors.length < 5) errors.push(String(e?.message ?? e));
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { done, elapsedMs: performance.now() - t0 };
  };

  await phase(warmupRequests, warmupMs, null);
  const latencies = new Float64Array(maxRequests);
  emit({ type: 'mark', name: 'start' });
  const failedBefore = failed;
  const { done, elapsedMs } = await phase(maxRequests, durationMs, latencies);
  emit({ type: 'mark', name: 'end', done });
  await dispatcher.close();
  return {
    concurrency,
    ok: done,
    failed: failed - failedBefore,
    failedTotal: failed,
    swapMissing,
    sent,
    elapsedMs,
    rps: (done / elapsedMs) * 1000,
    latency: summarise(latencies.subarray(0, done)),
    errors,
  };
}
