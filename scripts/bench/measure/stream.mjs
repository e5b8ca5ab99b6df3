// One large download; throughput and the proxy's peak RSS during the transfer (VmHWM reset at
// the start when the kernel allows it, plus VmRSS sampled every 50 ms).
import { runClient } from '../lib/client-runner.mjs';
import { mb, readCpuMs, readMem, resetPeak, sampleRss } from '../lib/rss.mjs';
import { round } from '../lib/stats.mjs';

export async function measureStream(cfg, col, { bytes, authorized }) {
  let sampler;
  let before;
  let peakReset = false;
  let sampled;
  let hwmKb;
  let hwmOneKb;
  let processes;
  let cpuStart;
  let cpuEnd;
  const r = await runClient(
    { kind: 'stream', target: col.target, bytes, durationMs: cfg.stream.durationMs, authorized },
    {
      timeoutMs: cfg.stream.durationMs + 60_000,
      onMessage: (m) => {
        if (m.type !== 'mark' || !col.pid) return;
        if (m.name === 'start') {
          before = readMem(col.pid)?.rssKb;
          peakReset = resetPeak(col.pid);
          cpuStart = readCpuMs(col.pid);
          sampler = sampleRss(col.pid, 50);
        } else if (m.name === 'end') {
          sampled = sampler?.stop();
          const m = readMem(col.pid);
          hwmKb = m?.hwmKb;
          hwmOneKb = m?.maxHwmKb;
          processes = m?.processes;
          cpuEnd = readCpuMs(col.pid);
        }
      },
    },
  );
  col.sent += r.sent;
  const out = {
    bytes,
    received: r.received,
    complete: r.complete,
    mbPerSec: round(r.mbPerSec, 1),
    seconds: round(r.elapsedMs / 1000, 2),
    ttfbMs: round(r.ttfbMs, 1),
    upstreamSawAuth: r.auth,
    error: r.error,
  };
  if (col.pid && sampled) {
    // VmHWM is the true peak only if it was reset at the start; otherwise it covers the process's life.
    const peakKb = peakReset ? Math.max(hwmKb ?? 0, sampled.maxKb) : sampled.maxKb;
    out.rssBeforeMb = mb(before);
    out.peakRssMb = mb(peakKb);
    // With proxy workers the download runs in one of them: its own peak, beside the sum.
    out.processes = processes;
    out.peakProcessRssMb = mb(peakReset ? Math.max(hwmOneKb ?? 0, sampled.maxOneKb) : sampled.maxOneKb);
    // File-backed pages once (readUnionRssKb): what the gateway's processes take together. Sampled only.
    out.peakUnionRssMb = sampled.maxUnionKb > 0 ? mb(sampled.maxUnionKb) : undefined;
    out.peakRssSource = peakReset ? 'VmHWM (reset at start) and VmRSS samples' : 'VmRSS samples every 50 ms';
    out.gatewayCpuSec = cpuStart !== undefined && cpuEnd !== undefined ? round((cpuEnd - cpuStart) / 1000, 2) : null;
  }
  return out;
}
