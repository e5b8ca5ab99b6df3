// Memory and CPU of a process from /proc (Linux only): current RSS, peak RSS (VmHWM), a sampler,
// CPU time. Each covers the process and its descendants (standin's proxy workers under
// `serve --workers N`): RSS is summed over them (shared pages count once per process, so the sum
// is an upper bound), peak RSS is the sum of each one's peak, CPU is summed.
import { readFileSync, writeFileSync } from 'node:fs';

/** PID and every live descendant (from /proc/PID/task/TID/children). */
export function treePids(pid) {
  const out = [];
  const walk = (p) => {
    out.push(p);
    let text = '';
    try {
      text = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8');
    } catch {
      return;
    }
    for (const c of text.trim().split(/\s+/).filter(Boolean)) walk(Number(c));
  };
  walk(pid);
  return out;
}

/** { rssKb, hwmKb } summed over the process tree, or undefined when the process is gone. */
export function readMem(pid) {
  const parts = treePids(pid).map(readOneMem).filter((m) => m !== undefined);
  if (parts.length === 0) return undefined;
  const sum = (k) => (parts.some((m) => m[k] === undefined) ? undefined : parts.reduce((a, m) => a + m[k], 0));
  const max = (k) => Math.max(0, ...parts.map((m) => m[k] ?? 0));
  return { rssKb: sum('rssKb'), hwmKb: sum('hwmKb'), maxRssKb: max('rssKb'), maxHwmKb: max('hwmKb'), processes: parts.length };
}

function readOneMem(pid) {
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
 * RSS of the process tree with the pages mapped from files counted once (kB): the anonymous and
 * shared-memory pages of every process, plus the largest file-backed RSS of any of them. Every
 * Node process maps the same ~45 MB of the node binary and libraries, which summed RSS counts once
 * per process; proxy workers are separate executions (not forks), so their anonymous memory is
 * their own. Unlike PSS, this does not depend on what else runs on the machine.
 */
export function readUnionRssKb(pid) {
  let anon = 0;
  let file = 0;
  let any = false;
  for (const p of treePids(pid)) {
    let text;
    try {
      text = readFileSync(`/proc/${p}/status`, 'utf8');
    } catch {
      continue;
    }
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    anon += kb('RssAnon') + kb('RssShmem');
    file = Math.max(file, kb('RssFile'));
    any = true;
  }
  return any ? anon + file : undefined;
}

/**
 * Resets the kernel's peak-RSS counter (VmHWM) to the current RSS ("echo 5 > clear_refs").
 * Returns false when not permitted; callers then rely on sampling only.
 */
export function resetPeak(pid) {
  try {
    for (const p of treePids(pid)) writeFileSync(`/proc/${p}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `everyMs`; stop() returns { maxKb (tree sum), maxOneKb (largest process), maxUnionKb (tree, file pages once), samples, lastKb }. */
export function sampleRss(pid, everyMs = 50) {
  let maxKb = 0;
  let maxOneKb = 0;
  let maxUnionKb = 0;
  let lastKb = 0;
  let samples = 0;
  const tick = () => {
    const m = readMem(pid);
    if (!m || m.rssKb === undefined) return;
    samples += 1;
    const union = readUnionRssKb(pid);
    if (union !== undefined && union > maxUnionKb) maxUnionKb = union;
    lastKb = m.rssKb;
    if (m.rssKb > maxKb) maxKb = m.rssKb;
    if (m.maxRssKb > maxOneKb) maxOneKb = m.maxRssKb;
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      tick();
      clearInterval(timer);
      return { maxKb, maxOneKb, maxUnionKb, lastKb, samples };
    },
  };
}

export const mb = (kb) => (kb === undefined || kb === null ? null : Math.round((kb / 1024) * 10) / 10);

/** CPU time (user + system) of a process tree in ms, from /proc/PID/stat; undefined when gone. */
export function readCpuMs(pid) {
  const parts = treePids(pid).map(readOneCpuMs).filter((v) => v !== undefined);
  return parts.length === 0 ? undefined : parts.reduce((a, b) => a + b, 0);
}

function readOneCpuMs(pid) {
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
