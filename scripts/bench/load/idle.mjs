// Opens `tunnels` connections (CONNECT + TLS + one GET, kept alive), `parallel` at a time, spread
// round-robin over the given credentials (one per sandbox), then holds them idle until the parent
// writes "close" on stdin (or holdMs passes). Reports how many opened and how many are still open.
import { HOST, getOver, openTls } from './targets.mjs';

export async function idle(job, emit) {
  const { target, tunnels, parallel, openMs, holdMs } = job;
  const sockets = [];
  const errors = [];
  let failed = 0;
  let closedEarly = 0;
  let next = 0;
  let sent = 0;
  const t0 = performance.now();
  const deadline = t0 + openMs;
  const worker = async () => {
    while (next < tunnels && performance.now() < deadline) {
      const i = next++;
      const cred = target.creds[i % target.creds.length];
      try {
        sent += 1;
        const { socket } = await openTls(target, HOST, cred, performance.now());
        const r = await getOver(socket, target, HOST, '/small', cred, { keepAlive: true });
        if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body.slice(0, 200)}`);
        socket.once('close', () => (closedEarly += 1));
        socket.on('error', () => {});
        sockets.push(socket);
      } catch (e) {
        failed += 1;
        if (errors.length < 5) errors.push(String(e?.message ?? e));
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const openedMs = performance.now() - t0;
  emit({ type: 'opened', opened: sockets.length, failed, closedSoFar: closedEarly, openedMs });

  await new Promise((resolve) => {
    const timer = setTimeout(resolve, holdMs);
    process.stdin.on('data', (d) => {
      if (d.toString().includes('close')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const stillOpen = sockets.length - closedEarly;
  for (const s of sockets) s.destroy();
  return { requested: tunnels, opened: sockets.length, failed, stillOpenAtClose: stillOpen, sent, openedMs, errors };
}
