// One large download over one keep-alive connection; throughput = bytes received / time from
// sending the request to the last byte. Aborted (and reported as partial) at durationMs.
import { makeDispatcher, origin } from './targets.mjs';

export async function stream(job, emit) {
  const { target, bytes, durationMs, authorized = true } = job;
  const dispatcher = makeDispatcher(target, { connections: 1 });
  const o = origin(target);
  const headers = authorized ? { authorization: target.creds[0].authorization } : {};
  let sent = 0;
  // Open the connection (tunnel, TLS, leaf) before timing.
  sent += 1;
  const warm = await dispatcher.request({ origin: o, path: '/small', method: 'GET', headers });
  await warm.body.text();

  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('time limit')), durationMs);
  emit({ type: 'mark', name: 'start' });
  const t0 = performance.now();
  let received = 0;
  let ttfbMs = null;
  let status = 0;
  let auth = null;
  let error = null;
  try {
    sent += 1;
    const res = await dispatcher.request({ origin: o, path: `/bytes?n=${bytes}`, method: 'GET', headers, signal: ac.signal });
    status = res.statusCode;
    auth = res.headers['x-auth'] ?? null;
    ttfbMs = performance.now() - t0;
    for await (const chunk of res.body) received += chunk.length;
  } catch (e) {
    error = String(e?.message ?? e);
  }
  const elapsedMs = performance.now() - t0;
  clearTimeout(timer);
  emit({ type: 'mark', name: 'end' });
  await dispatcher.destroy();
  return {
    bytes,
    received,
    complete: received === bytes,
    status,
    auth,
    error,
    sent,
    elapsedMs,
    ttfbMs,
    mbPerSec: received / 1e6 / (elapsedMs / 1000),
  };
}
