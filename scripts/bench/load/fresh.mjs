// One request per fresh connection: (CONNECT tunnel +) TLS handshake + GET + close, sequentially.
// Used for "new connection" (always the same host) and "new host" (a different, never-seen host
// name per request: the gateway has to mint a certificate for each). Bounded by count and time.
import { HOST, getOver, openTls } from './targets.mjs';

export async function fresh(job, emit) {
  const { target, hosts, count, durationMs, warmup = 0, path = '/small' } = job;
  const cred = target.creds[0];
  const errors = [];
  let sent = 0;
  let failed = 0;
  let swapMissing = 0;

  const once = async (host) => {
    sent += 1;
    const t0 = performance.now();
    const { socket, connectMs, tlsMs } = await openTls(target, host, cred, t0);
    try {
      const r = await getOver(socket, target, host, path, cred, { keepAlive: false });
      const totalMs = performance.now() - t0;
      if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body.slice(0, 200)}`);
      if (!r.body.includes('"auth":"real"')) swapMissing += 1;
      return { totalMs, connectMs, tlsMs };
    } finally {
      socket.destroy();
    }
  };

  // Warm-up on the main host (JIT, first leaf, upstream pool), never on the measured names.
  for (let i = 0; i < warmup; i++) {
    try {
      await once(HOST);
    } catch (e) {
      failed += 1;
      if (errors.length < 5) errors.push(`warm-up: ${e?.message ?? e}`);
    }
  }
  emit({ type: 'mark', name: 'start' });
  const total = [];
  const connect = [];
  const tls = [];
  const deadline = performance.now() + durationMs;
  const n = hosts ? Math.min(count, hosts.length) : count;
  for (let i = 0; i < n && performance.now() < deadline; i++) {
    try {
      const r = await once(hosts ? hosts[i] : HOST);
      total.push(r.totalMs);
      if (r.connectMs !== null) connect.push(r.connectMs);
      tls.push(r.tlsMs);
    } catch (e) {
      failed += 1;
      if (errors.length < 5) errors.push(String(e?.message ?? e));
    }
  }
  emit({ type: 'mark', name: 'end' });
  return { ok: total.length, failed, swapMissing, sent, total, connect, tls, errors };
}
