#!/usr/bin/env node
// Streaming A/B: one large download through each relay, rounds interleaved, with the relay's CPU
// seconds per GB (from /proc, over its process tree) beside MB/s. On a shared, noisy machine
// CPU per GB moves far less than throughput, so two builds of the gateway can be compared by it.
// Columns: direct, the nginx relay (when installed), a bare Node TLS pipe (pipe-relay.mjs), then
// per build of standin the download with the token (swapped, scrubbed) and without (untouched
// unless another secret of the sandbox is scoped to the host, as here: then scrubbed too).
// The client is curl (HTTP/1.1), the cheapest client at hand, so the relay gets the most CPU.
//   node scripts/bench/stream-ab.mjs [--bytes=1e9] [--rounds=3] [--build=NAME=path/to/dist/cli/main.js]...
// Gateway flags: BENCH_STANDIN_NODE_ARGS (e.g. --cpu-prof), BENCH_STANDIN_WORKERS (default 1 here).
import { execFile, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNginx } from './launch-nginx.mjs';
import { startStandin } from './launch-standin.mjs';
import { startUpstream } from './launch-upstream.mjs';
import { installCleanup, register, stopAll } from './lib/procs.mjs';
import { readCpuMs, resetPeak, sampleRss } from './lib/rss.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const certDir = join(repoRoot, 'certs');
const opts = { bytes: 1e9, rounds: 3, builds: [] };
for (const a of process.argv.slice(2)) {
  if (a.startsWith('--bytes=')) opts.bytes = Number(a.slice(8));
  else if (a.startsWith('--rounds=')) opts.rounds = Number(a.slice(9));
  else if (a.startsWith('--build=')) {
    const [name, main] = a.slice(8).split('=');
    if (!name || !main) throw new Error('--build=NAME=PATH');
    opts.builds.push({ name, main });
  } else throw new Error(`unknown argument ${a}`);
}
if (!Number.isSafeInteger(opts.bytes) || opts.bytes <= 0 || opts.bytes > 8e9) throw new Error('--bytes: 1..8e9');
if (!Number.isInteger(opts.rounds) || opts.rounds < 1 || opts.rounds > 20) throw new Error('--rounds: 1..20');
if (opts.builds.length === 0) opts.builds.push({ name: 'standin', main: join(repoRoot, 'dist/cli/main.js') });

installCleanup();
const tmp = mkdtempSync(join(tmpdir(), 'stream-ab-'));
const realValue = `sk-bench-real-${randomBytes(12).toString('hex')}`;
const host = 'api.standin.test';
const upstream = await startUpstream({ certDir, realValue });
const nginx = await startNginx({ tmp, certDir, upstreamPort: upstream.port, host });
const pipe = fork(join(here, 'pipe-relay.mjs'), [certDir, String(upstream.port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
register(pipe);
const pipePort = await new Promise((resolve) => pipe.once('message', (m) => resolve(m.port)));
const gateways = [];
for (const b of opts.builds) {
  process.env.BENCH_STANDIN_MAIN = b.main;
  process.env.BENCH_STANDIN_WORKERS ??= '1';
  const gw = await startStandin({ repoRoot, home: join(tmp, `home-${b.name}`), certDir, upstreamPort: upstream.port, realValue, hosts: [host] });
  const ca = join(tmp, `${b.name}-ca.pem`);
  writeFileSync(ca, gw.caPem);
  gateways.push({ name: b.name, gw, ca });
}

// Bounded: curl gives up after 300 s, and each round runs a fixed list.
const url = (port) => `https://${host}:${port}/bytes?n=${opts.bytes}`;
const curl = (args) =>
  new Promise((resolve) =>
    execFile('curl', ['-s', '--http1.1', '--max-time', '300', '-o', '/dev/null', '-w', '%{speed_download} %{size_download} %{http_code}', ...args], (_e, out) => {
      const [speed = 0, size = 0, code = 0] = String(out).split(' ').map(Number);
      resolve({ speed, size, code });
    }),
  );
const direct = (port) => ['--cacert', join(certDir, 'test-ca.pem'), '--resolve', `${host}:${port}:127.0.0.1`, url(port)];

async function measure(label, pid, args) {
  const cpu0 = pid ? readCpuMs(pid) : undefined;
  let sampler;
  if (pid) {
    resetPeak(pid);
    sampler = sampleRss(pid, 50);
  }
  const r = await curl(args);
  const cpu1 = pid ? readCpuMs(pid) : undefined;
  const rssMb = sampler ? sampler.stop().maxKb / 1024 : undefined;
  const gb = opts.bytes / 1e9;
  return { label, mbs: r.speed / 1e6, cpu: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / 1000 / gb : undefined, rssMb, ok: r.size === opts.bytes && r.code === 200 };
}

const all = new Map();
for (let round = 0; round < opts.rounds; round++) {
  const rows = [await measure('direct', undefined, direct(upstream.port))];
  if (nginx) rows.push(await measure('nginx', nginx.pid, direct(nginx.port)));
  rows.push(await measure('node pipe', pipe.pid, direct(pipePort)));
  for (const { name, gw, ca } of gateways) {
    const box = gw.sandboxes[0];
    const via = ['-x', `http://${gw.address}`, '--proxy-user', `${box.user}:${box.pass}`, '--cacert', ca, url(upstream.port)];
    rows.push(await measure(`${name} swapped`, gw.pid, ['-H', `Authorization: Bearer ${box.token}`, ...via]));
    rows.push(await measure(`${name} no token`, gw.pid, via));
  }
  const ng = rows.find((r) => r.label === 'nginx');
  process.stdout.write(`round ${round + 1}: ${rows.map((r) => format(r, ng)).join(' | ')}\n`);
  for (const r of rows) all.set(r.label, [...(all.get(r.label) ?? []), r]);
}

const median = (xs) => {
  const v = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  return v.length === 0 ? undefined : v[Math.floor(v.length / 2)];
};
const med = [...all].map(([label, rs]) => ({ label, mbs: median(rs.map((r) => r.mbs)), cpu: median(rs.map((r) => r.cpu)), rssMb: median(rs.map((r) => r.rssMb)), ok: rs.every((r) => r.ok) }));
process.stdout.write(`median: ${med.map((r) => format(r, med.find((x) => x.label === 'nginx'))).join(' | ')}\n`);

pipe.disconnect();
for (const { gw } of gateways) await gw.stop();
await upstream.stop?.();
await stopAll();
rmSync(tmp, { recursive: true, force: true });

function format(r, ng) {
  const rel = (a, b) => (ng && r !== ng && a !== undefined && b ? ` (${(a / b).toFixed(2)}x)` : '');
  const cpu = r.cpu !== undefined ? `, ${r.cpu.toFixed(2)} cpu-s/GB${rel(r.cpu, ng?.cpu)}` : '';
  const rss = r.rssMb !== undefined ? `, ${r.rssMb.toFixed(0)} MB` : '';
  return `${r.label} ${r.mbs.toFixed(0)} MB/s${rel(r.mbs, ng?.mbs)}${cpu}${rss}${r.ok ? '' : ' INCOMPLETE'}`;
}
