// Memory of a process from /proc (Linux only): current RSS, peak RSS (VmHWM), and a sampler.
import { readFileSync, writeFileSync } from 'node:fs';

/** { rssKb, hwmKb } from /proc/PID/status, or undefined when the process is gone. */
export function readMem(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (name) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/**
 * Resets the kernel's peak-RSS counter (VmHWM) to the current RSS ("echo 5 > clear_refs").
 * Returns false when not permitted; callers then rely on sampling only.
 */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `everyMs`; stop() returns { maxKb, samples, lastKb }. */
export function sampleRss(pid, everyMs = 50) {
  let maxKb = 0;
  let lastKb = 0;
  let samples = 0;
  const tick = () => {
    const m = readMem(pid);
    if (!m || m.rssKb === undefined) return;
    samples += 1;
    lastKb = m.rssKb;
    if (m.rssKb > maxKb) maxKb = m.rssKb;
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      tick();
      clearInterval(timer);
      return { maxKb, lastKb, samples };
    },
  };
}

export const mb = (kb) => (kb === undefined || kb === null ? null : Math.round((kb / 1024) * 10) / 10);

/** CPU time (user + system) of a process in ms, from /proc/PID/stat; undefined when gone. */
export function readCpuMs(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}
