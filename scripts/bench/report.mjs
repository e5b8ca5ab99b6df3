// Turns the results into the printed table (values, ratios to direct, mitmproxy and the nginx relay, targets
// with PASS/MISS) and the JSON document written to bench-results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { round } from './lib/stats.mjs';

const get = (obj, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? round(a / b, 2) : null);

/** Rows of the table: [label, path into each column's results, unit]. */
function tableRows(cfg) {
  const rows = [];
  for (const c of cfg.concurrency) {
    rows.push([`small c=${c} throughput`, `small.${c}.rps`, 'req/s']);
    rows.push([`small c=${c} p50`, `small.${c}.p50`, 'ms']);
    rows.push([`small c=${c} p99`, `small.${c}.p99`, 'ms']);
  }
  rows.push(['new connection p50', 'newconn.p50', 'ms'], ['new connection p99', 'newconn.p99', 'ms']);
  rows.push(['new host 1st request p50', 'newhost.p50', 'ms'], ['new host 1st request p99', 'newhost.p99', 'ms']);
  const gb = cfg.stream.bytes >= 1e9 ? `${cfg.stream.bytes / 1e9} GB` : `${cfg.stream.bytes / 1e6} MB`;
  rows.push(['proxy RSS at start', 'rssAtStartMb', 'MB']);
  rows.push([`stream ${gb} (swapped)`, 'stream.mbPerSec', 'MB/s'], [`stream ${gb}: RSS before`, 'stream.rssBeforeMb', 'MB'], [`stream ${gb}: peak RSS`, 'stream.peakRssMb', 'MB'], [`stream ${gb}: peak RSS, largest process`, 'stream.peakProcessRssMb', 'MB'], [`stream ${gb}: peak RSS, file pages once`, 'stream.peakUnionRssMb', 'MB']);
  rows.push([`stream ${cfg.stream.noSwapBytes / 1e6} MB (no token)`, 'streamNoSwap.mbPerSec', 'MB/s']);
  rows.push([`${cfg.idle.tunnels} idle tunnels: RSS before`, 'idle.rssBeforeMb', 'MB'], [`${cfg.idle.tunnels} idle tunnels: RSS open`, 'idle.rssAfterMb', 'MB']);
  rows.push(['idle tunnels: per tunnel', 'idle.kbPerTunnel', 'KB'], ['idle tunnels: opened', 'idle.opened', ''], ['idle tunnels: open time', 'idle.openSeconds', 's']);
  const top = cfg.concurrency.at(-1);
  rows.push([`netlog rows/s (c=${top})`, `small.${top}.netlog.rowsPerSec`, 'rows/s'], ['netlog rows lost', 'netlog.lost', 'rows']);
  return rows;
}

export function evaluateTargets(cfg, results) {
  const d = results.direct;
  const s = results.standin;
  const m = results.mitmproxy;
  const n = results.nginx;
  const t = cfg.targets;
  const out = [];
  const add = (name, value, target, pass) => out.push({ name, value, target, result: pass === null ? 'n/a' : pass ? 'PASS' : 'MISS' });
  const cmp = (a, b, f) => (typeof a === 'number' && typeof b === 'number' ? f(a, b) : null);
  for (const c of cfg.concurrency) {
    const r = ratio(get(s, `small.${c}.rps`), get(m, `small.${c}.rps`));
    add(`small c=${c} throughput vs mitmproxy`, r === null ? null : `${r}x`, `>= ${t.smallVsMitm}x`, r === null ? null : r >= t.smallVsMitm);
  }
  for (const c of cfg.concurrency) {
    const r = ratio(get(s, `small.${c}.rps`), get(n, `small.${c}.rps`));
    add(`small c=${c} throughput vs nginx relay`, r === null ? null : `${r}x`, `>= ${t.smallVsNginx}x`, r === null ? null : r >= t.smallVsNginx);
  }
  for (const c of cfg.concurrency) {
    const r = ratio(get(s, `small.${c}.p50`), get(d, `small.${c}.p50`));
    add(`small c=${c} p50 vs direct`, r === null ? null : `${r}x`, `<= ${t.p50VsDirect}x`, r === null ? null : r <= t.p50VsDirect);
  }
  const sr = ratio(get(s, 'stream.mbPerSec'), get(d, 'stream.mbPerSec'));
  add('stream throughput vs direct', sr === null ? null : `${sr}x`, `>= ${t.streamVsDirect}x`, sr === null ? null : sr >= t.streamVsDirect && get(s, 'stream.complete') === true);
  const sn = ratio(get(s, 'stream.mbPerSec'), get(n, 'stream.mbPerSec'));
  add('stream throughput vs nginx relay', sn === null ? null : `${sn}x`, `>= ${t.streamVsNginx}x`, sn === null ? null : sn >= t.streamVsNginx && get(s, 'stream.complete') === true);
  const sm = ratio(get(s, 'stream.mbPerSec'), get(m, 'stream.mbPerSec'));
  add('stream throughput vs mitmproxy', sm === null ? null : `${sm}x`, `>= ${t.streamVsMitm}x`, sm === null ? null : sm >= t.streamVsMitm && get(s, 'stream.complete') === true);
  const rss = get(s, 'stream.peakRssMb');
  add('gateway peak RSS during stream (all processes, summed)', rss == null ? null : `${rss} MB`, `< ${t.streamRssMb} MB`, rss == null ? null : rss < t.streamRssMb);
  const union = get(s, 'stream.peakUnionRssMb');
  if (get(s, 'stream.processes') > 1) add('gateway peak RSS during stream (all processes, file pages once)', union == null ? null : `${union} MB`, `< ${t.streamRssMb} MB`, union == null ? null : union < t.streamRssMb);
  const one = get(s, 'stream.peakProcessRssMb');
  if (get(s, 'stream.processes') > 1) add('gateway peak RSS during stream (the relaying worker)', one == null ? null : `${one} MB`, `< ${t.streamRssMb} MB`, one == null ? null : one < t.streamRssMb);
  const nh = cmp(get(s, 'newhost.p50'), get(d, 'newhost.p50'), (a, b) => round(a - b, 2));
  add('new host 1st request p50 - direct', nh === null ? null : `+${nh} ms`, `<= +${t.newHostPlusMs} ms`, nh === null ? null : nh <= t.newHostPlusMs);
  const nc = cmp(get(s, 'newconn.p50'), get(d, 'newconn.p50'), (a, b) => round(a - b, 2));
  add('new connection p50 - direct', nc === null ? null : `+${nc} ms`, `<= +${t.newConnPlusMs} ms`, nc === null ? null : nc <= t.newConnPlusMs);
  const lost = get(s, 'netlog.lost');
  add('network-log rows lost', lost ?? null, '0', lost == null ? null : lost === 0);
  return out;
}

function fmt(v) {
  if (v === null || v === undefined) return '-';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 1000) return String(Math.round(v));
  if (Math.abs(v) >= 100) return v.toFixed(1);
  return v.toFixed(2);
}

export function renderTable(cfg, results, targets, columns) {
  const header = ['metric', 'unit', ...columns, 'standin/direct', 'standin/mitm', 'standin/nginx', 'standin/node', 'standin/node-mitm', 'standin/standin-b'];
  const lines = [header];
  for (const [label, path, unit] of tableRows(cfg)) {
    const vals = columns.map((c) => get(results[c], path));
    const s = get(results.standin, path);
    lines.push([label, unit, ...vals.map(fmt), fmt(ratio(s, get(results.direct, path))), fmt(ratio(s, get(results.mitmproxy, path))), fmt(ratio(s, get(results.nginx, path))), fmt(ratio(s, get(results.node, path))), fmt(ratio(s, get(results['node-mitm'], path))), fmt(ratio(s, get(results['standin-b'], path)))]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => String(l[i]).length)));
  const pad = (l) => l.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  const text = [pad(lines[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(pad)];
  text.push('', 'targets:');
  const tw = Math.max(...targets.map((t) => t.name.length));
  for (const t of targets) text.push(`  ${t.result.padEnd(4)}  ${t.name.padEnd(tw)}  ${String(t.value ?? '-').padStart(10)}  (target ${t.target})`);
  return text.join('\n');
}

export function writeJson(file, doc) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}
