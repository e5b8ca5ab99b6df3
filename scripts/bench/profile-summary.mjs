#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from BENCH_STANDIN_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"):
// self time by function and by source file, and inclusive time of selected functions, so a
// profile can be read without a flame-graph tool.
//   node scripts/bench/profile-summary.mjs FILE.cpuprofile [--top=40] [--incl=name1,name2] [--last=MS]
import { readFileSync } from 'node:fs';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: profile-summary.mjs FILE.cpuprofile [--top=N] [--incl=fn1,fn2]\n');
  process.exit(2);
}
const opt = Object.fromEntries(rest.map((a) => a.replace(/^--/, '').split('=')));
const top = Number(opt.top ?? 40);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample time per node: timeDeltas[i] is the time before sample i.
// --last=MS: only the samples of the profile's last MS milliseconds (the measured window of a
// benchmark, without the start-up).
const selfUs = new Map();
const lastUs = opt.last === undefined ? Infinity : Number(opt.last) * 1000;
let t = prof.startTime;
const times = prof.timeDeltas.map((d) => (t += d));
for (let i = 0; i < prof.samples.length; i++) {
  if (prof.endTime - times[i] > lastUs) continue;
  const id = prof.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const label = (n) => {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm:').replace(/.*\/dist\//, 'dist:');
  return `${f.functionName || '(anon)'} ${url}:${f.lineNumber + 1}`;
};
const fileOf = (n) => {
  const url = n.callFrame.url;
  if (!url) return `(${n.callFrame.functionName || 'native'})`;
  return url.replace(/^file:\/\//, '').replace(/.*\/node_modules\/([^/]+).*/, 'nm:$1').replace(/.*\/dist\//, 'dist:');
};
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
const byFn = new Map();
const byFile = new Map();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  add(byFn, label(n), us);
  add(byFile, fileOf(n), us);
}
const pct = (us) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
const print = (title, m, k) => {
  process.stdout.write(`\n== ${title}\n`);
  for (const [name, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, k)) process.stdout.write(`${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
};
process.stdout.write(`total sampled ${(total / 1e6).toFixed(2)} s\n`);
print('self time by file', byFile, 25);
print('self time by function', byFn, top);

// Inclusive time: a sample counts once for every distinct function name on its stack.
if (opt.incl) {
  const wanted = opt.incl.split(',');
  const incl = new Map();
  for (const [id, us] of selfUs) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur).callFrame.functionName;
      for (const w of wanted) if (name === w && !seen.has(w)) {
        seen.add(w);
        add(incl, w, us);
      }
    }
  }
  print('inclusive', incl, wanted.length);
}

// Callers: for each named function, the stacks (up to `depth` frames) that lead to it, by time.
if (opt.callers) {
  const depth = Number(opt.depth ?? 8);
  for (const w of opt.callers.split(',')) {
    const paths = new Map();
    for (const [id, us] of selfUs) {
      let cur = id;
      while (cur !== undefined && byId.get(cur).callFrame.functionName !== w) cur = parent.get(cur);
      if (cur === undefined) continue;
      const chain = [];
      for (let p = parent.get(cur); p !== undefined && chain.length < depth; p = parent.get(p)) chain.push(byId.get(p).callFrame.functionName || '(anon)');
      add(paths, chain.join(' < '), us);
    }
    print(`callers of ${w}`, paths, 12);
  }
}
