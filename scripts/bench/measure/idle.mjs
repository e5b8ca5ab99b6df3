// Memory held by N idle tunnels: the proxy's RSS before opening them, once all are open and idle
// (after 1 s), and 2 s after they are closed. Direct connections have no proxy: not measured.
import { runClient } from '../lib/client-runner.mjs';
import { mb, readMem } from '../lib/rss.mjs';
import { round } from '../lib/stats.mjs';
import { sleep } from '../lib/procs.mjs';

export async function measureIdle(cfg, col) {
  const c = cfg.idle;
  const before = readMem(col.pid)?.rssKb;
  let after;
  const r = await runClient(
    { kind: 'idle', target: col.idleTarget ?? col.target, tunnels: c.tunnels, parallel: c.parallel, openMs: c.openMs, holdMs: 30_000 },
    {
      timeoutMs: c.openMs + 60_000,
      onMessage: (m, send) => {
        if (m.type !== 'opened') return;
        setTimeout(() => {
          after = readMem(col.pid)?.rssKb;
          send('close');
        }, 1_000);
      },
    },
  );
  col.sent += r.sent;
  await sleep(2_000);
  const released = readMem(col.pid)?.rssKb;
  return {
    tunnels: c.tunnels,
    opened: r.opened,
    failed: r.failed,
    stillOpen: r.stillOpenAtClose,
    openSeconds: round(r.openedMs / 1000, 2),
    rssBeforeMb: mb(before),
    rssAfterMb: mb(after),
    rssClosedMb: mb(released),
    kbPerTunnel: before !== undefined && after !== undefined && r.opened > 0 ? round((after - before) / r.opened, 1) : null,
    errors: r.errors,
  };
}
