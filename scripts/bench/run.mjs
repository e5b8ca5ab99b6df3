#!/usr/bin/env node
// `npm run bench [-- --quick]`: standin side by side with a direct connection and with mitmproxy
// (when mitmdump is installed) doing the same header swap, and with nginx (when installed) as a
// plain TLS-in/TLS-out relay, the floor of any two-leg TLS proxy — same upstream, same client, same
// certificates, same machine, same run. Loopback only. Prints a table and writes JSON.
//
// Processes: this orchestrator (idle while measuring: it only reads /proc and the log database),
// the HTTPS upstream, standin (`node dist/cli/main.js serve`), mitmdump, and one load-client
// process per measurement. Columns are interleaved per measurement so that drift on the machine
// affects all of them alike.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COLUMNS, STEPS, USAGE, makeConfig, parseArgs } from './config.mjs';
import { startMitm, findMitmdump } from './launch-mitm.mjs';
import { findNginx, startNginx } from './launch-nginx.mjs';
import { startNodeRelay } from './launch-node-relay.mjs';
import { startStandin } from './launch-standin.mjs';
import { startUpstream } from './launch-upstream.mjs';
import { openRowCounter } from './lib/netlog-db.mjs';
import { installCleanup, stopAll } from './lib/procs.mjs';
import { mb, readMem } from './lib/rss.mjs';
import { measureFresh } from './measure/fresh.mjs';
import { measureIdle } from './measure/idle.mjs';
import { checkNetLog } from './measure/netlog.mjs';
import { measureSmall } from './measure/small.mjs';
import { measureStream } from './measure/stream.mjs';
import { evaluateTargets, renderTable, writeJson } from './report.mjs';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const log = (s) => process.stdout.write(`${s}\n`);

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) return log(USAGE);
  const cfg = makeConfig(args);
  const wanted = args.only ?? COLUMNS;
  const outFile = resolve(repoRoot, args.out ?? 'bench-results/latest.json');
  const certDir = join(repoRoot, 'certs');
  for (const f of ['test-ca.pem', 'upstream.pem', 'upstream-key.pem']) {
    if (!existsSync(join(certDir, f))) throw new Error(`${join(certDir, f)} missing: run node scripts/gen-test-certs.mjs`);
  }
  installCleanup();
  const tmp = mkdtempSync(join(tmpdir(), 'standin-bench-'));
  const began = Date.now();
  const notes = [];
  try {
    const realValue = `sk-bench-real-${randomBytes(12).toString('hex')}`;
    const testCa = readFileSync(join(certDir, 'test-ca.pem'), 'utf8');
    const upstream = await startUpstream({ certDir, realValue });
    log(`bench: ${cfg.quick ? 'quick' : 'full'} run; upstream https://127.0.0.1:${upstream.port} (pid ${upstream.pid})`);

    const cols = [];
    if (wanted.includes('direct')) {
      cols.push({ name: 'direct', target: { mode: 'direct', ca: testCa, upstreamPort: upstream.port, creds: [{ authorization: `Bearer ${realValue}` }] }, sent: 0 });
    }
    let gw;
    let standinToken = `standin_${randomBytes(16).toString('hex')}`;
    if (wanted.includes('standin')) {
      gw = await startStandin({
        repoRoot,
        home: join(tmp, 'standin-home'),
        certDir,
        upstreamPort: upstream.port,
        realValue,
        hosts: ['api.standin.test', ...cfg.newHosts],
        sandboxes: Math.ceil(cfg.idle.tunnels / cfg.idle.perSandbox),
        logLevel: process.env.BENCH_STANDIN_LOG_LEVEL ?? 'info',
      });
      standinToken = gw.sandboxes[0].token;
      const proxy = { host: gw.address.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''), port: Number(gw.address.split(':').at(-1)) };
      const credOf = (b) => ({ proxyAuth: `Basic ${Buffer.from(`${b.user}:${b.pass}`).toString('base64')}`, authorization: `Bearer ${b.token}` });
      const base = { mode: 'proxy', proxy, ca: gw.caPem, upstreamPort: upstream.port };
      cols.push({
        name: 'standin',
        pid: gw.pid,
        target: { ...base, creds: [credOf(gw.sandboxes[0])] },
        idleTarget: { ...base, creds: gw.sandboxes.map(credOf) },
        rowCounter: openRowCounter(repoRoot, gw.dbPath),
        sent: 0,
      });
      log(`bench: standin ${gw.address} (pid ${gw.pid}, ${gw.sandboxes.length} sandboxes)`);
    }
    // BENCH_STANDIN_B_MAIN: a second build as its own column (standin-b), measured in the same run,
    // interleaved with the first: an A/B comparison under the same machine noise.
    let gwB;
    if (wanted.includes('standin') && process.env.BENCH_STANDIN_B_MAIN) {
      gwB = await startStandin({ repoRoot, home: join(tmp, 'standin-home-b'), certDir, upstreamPort: upstream.port, realValue, hosts: ['api.standin.test', ...cfg.newHosts], sandboxes: Math.ceil(cfg.idle.tunnels / cfg.idle.perSandbox), logLevel: process.env.BENCH_STANDIN_LOG_LEVEL ?? 'info', variant: 'STANDIN_B' });
      const proxy = { host: '127.0.0.1', port: Number(gwB.address.split(':').at(-1)) };
      const credOf = (b) => ({ proxyAuth: `Basic ${Buffer.from(`${b.user}:${b.pass}`).toString('base64')}`, authorization: `Bearer ${b.token}` });
      const base = { mode: 'proxy', proxy, ca: gwB.caPem, upstreamPort: upstream.port };
      cols.push({ name: 'standin-b', pid: gwB.pid, target: { ...base, creds: [credOf(gwB.sandboxes[0])] }, idleTarget: { ...base, creds: gwB.sandboxes.map(credOf) }, sent: 0 });
      log(`bench: standin-b ${gwB.address} (pid ${gwB.pid}, ${process.env.BENCH_STANDIN_B_MAIN})`);
    }
    let mitm;
    if (wanted.includes('mitmproxy')) {
      if (!findMitmdump()) notes.push('mitmdump not found: mitmproxy column skipped (apt-get install mitmproxy)');
      else {
        mitm = await startMitm({ tmp, certDir, token: standinToken, realValue });
        const target = { mode: 'proxy', proxy: { host: '127.0.0.1', port: Number(mitm.address.split(':')[1]) }, ca: mitm.caPem, upstreamPort: upstream.port, creds: [{ authorization: `Bearer ${standinToken}` }] };
        cols.push({ name: 'mitmproxy', pid: mitm.pid, target, sent: 0 });
        log(`bench: mitmproxy ${mitm.version} ${mitm.address} (pid ${mitm.pid})`);
      }
    }
    let nginx;
    if (wanted.includes('nginx')) {
      if (!findNginx()) notes.push('nginx not found: nginx column skipped (apt-get install nginx)');
      else {
        nginx = await startNginx({ tmp, certDir, upstreamPort: upstream.port, host: 'api.standin.test' });
        // Reached like the upstream itself (TLS to its port, the real value): a reverse proxy, no CONNECT.
        cols.push({ name: 'nginx', pid: nginx.pid, target: { mode: 'direct', ca: testCa, upstreamPort: nginx.port, creds: [{ authorization: `Bearer ${realValue}` }] }, sent: 0 });
        log(`bench: nginx ${nginx.version} relay 127.0.0.1:${nginx.port} (pid ${nginx.pid}, one process)`);
      }
    }
    let nodeRelay;
    if (wanted.includes('node')) {
      nodeRelay = await startNodeRelay({ certDir, upstreamPort: upstream.port, host: 'api.standin.test' });
      cols.push({ name: 'node', pid: nodeRelay.pid, target: { mode: 'direct', ca: testCa, upstreamPort: nodeRelay.port, creds: [{ authorization: `Bearer ${realValue}` }] }, sent: 0 });
      log(`bench: node ${nodeRelay.version} relay 127.0.0.1:${nodeRelay.port} (pid ${nodeRelay.pid}, plain https server + keep-alive agent)`);
    }
    let nodeMitm;
    if (wanted.includes('node-mitm')) {
      nodeMitm = await startNodeRelay({ certDir, upstreamPort: upstream.port, host: 'api.standin.test', mitm: { token: standinToken, realValue } });
      const target = { mode: 'proxy', proxy: { host: '127.0.0.1', port: nodeMitm.port }, ca: testCa, upstreamPort: upstream.port, creds: [{ authorization: `Bearer ${standinToken}` }] };
      cols.push({ name: 'node-mitm', pid: nodeMitm.pid, target, sent: 0 });
      log(`bench: node ${nodeMitm.version} intercepting proxy 127.0.0.1:${nodeMitm.port} (pid ${nodeMitm.pid}, CONNECT + TLS + node:http both legs, header swap only)`);
    }
    for (const n of notes) log(`bench: ${n}`);

    const results = Object.fromEntries(cols.map((c) => [c.name, {}]));
    const overBudget = () => Date.now() - began > cfg.budgetMs;
    const steps = args.steps ?? STEPS;
    const step = async (label, fn) => {
      const id = label.startsWith('small') ? 'small' : label.startsWith('idle') ? 'idle' : label.startsWith('stream') ? 'stream' : label === 'new host' ? 'newhost' : 'newconn';
      if (!steps.includes(id)) return;
      for (const col of cols) {
        if (overBudget()) {
          notes.push(`time budget reached: skipped ${label} for ${col.name}`);
          continue;
        }
        const t0 = Date.now();
        try {
          await fn(col, results[col.name]);
        } catch (e) {
          notes.push(`${label} / ${col.name} failed: ${e.message.split('\n')[0]}`);
          results[col.name].failures = [...(results[col.name].failures ?? []), { step: label, error: e.message.slice(0, 2000) }];
        }
        log(`  ${label.padEnd(26)} ${col.name.padEnd(10)} ${((Date.now() - t0) / 1000).toFixed(1)} s  ${summaryOf(label, results[col.name])}`);
      }
    };

    for (const col of cols) if (col.pid) results[col.name].rssAtStartMb = mb(readMem(col.pid)?.rssKb);
    // Order: first requests to never-seen names come first, while the gateway's caches are cold;
    // the stream (absolute peak-RSS target) before the idle tunnels (a before/after difference).
    await step('new host', async (col, r) => (r.newhost = await measureFresh(cfg, col, 'newhost')));
    await step('new connection', async (col, r) => (r.newconn = await measureFresh(cfg, col, 'newconn')));
    for (const c of cfg.concurrency) {
      await step(`small c=${c}`, async (col, r) => ((r.small ??= {})[c] = await measureSmall(cfg, col, c)));
    }
    await step('stream (swapped)', async (col, r) => (r.stream = await measureStream(cfg, col, { bytes: cfg.stream.bytes, authorized: true })));
    await step('stream (no token)', async (col, r) => (r.streamNoSwap = await measureStream(cfg, col, { bytes: cfg.stream.noSwapBytes, authorized: false })));
    await step(`idle ${cfg.idle.tunnels} tunnels`, async (col, r) => {
      // Idle tunnels are CONNECT tunnels: the reverse-proxy and direct columns have none.
      if (col.name === 'standin' || col.name === 'standin-b' || col.name === 'mitmproxy') r.idle = await measureIdle(cfg, col);
    });

    // Shut standin down the way an operator does (SIGTERM flushes the log), then count its rows.
    const standinCol = cols.find((c) => c.name === 'standin');
    if (gw && standinCol) {
      standinCol.rowCounter?.close();
      const exit = await gw.stop();
      const streamJobs = ['stream', 'streamNoSwap'].filter((k) => results.standin[k]).length;
      results.standin.netlog = await checkNetLog(gw, standinCol.sent, streamJobs);
      results.standin.shutdown = { code: exit.code, signal: exit.signal, ms: exit.ms };
      results.standin.stderrLines = gw.stderrLines();
      results.standin.stderrTail = gw.stderrTail.slice(-40);
      log(`  network log                standin    ${results.standin.netlog.rows} rows for ${standinCol.sent} requests sent`);
    }
    if (gwB) await gwB.stop();
    if (mitm) await mitm.stop();
    if (nginx) await nginx.stop();
    if (nodeRelay) await nodeRelay.stop();
    if (nodeMitm) await nodeMitm.stop();
    const upstreamCounts = await upstream.stats();
    await upstream.stop();

    const columns = cols.map((c) => c.name);
    const targets = evaluateTargets(cfg, results);
    const table = renderTable(cfg, results, targets, columns);
    const doc = {
      date: new Date().toISOString(),
      mode: cfg.quick ? 'quick' : 'full',
      machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, platform: process.platform },
      mitmproxy: mitm ? mitm.version : null,
      nginx: nginx ? nginx.version : null,
      columns,
      config: cfg,
      results,
      targets,
      upstreamCounts,
      notes,
      durationSec: Math.round((Date.now() - began) / 1000),
    };
    writeJson(outFile, doc);
    log('');
    log(table);
    if (notes.length > 0) log(`\nnotes:\n${notes.map((n) => `  - ${n}`).join('\n')}`);
    log(`\nwrote ${outFile} (${doc.durationSec} s)`);
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

function summaryOf(label, r) {
  const bad = (x) => (x && (x.failed || x.swapMissing) ? ` [failed ${x.failed ?? 0}, not swapped ${x.swapMissing ?? 0}]` : '');
  if (label === 'new host') return r.newhost ? `p50 ${r.newhost.p50} ms p99 ${r.newhost.p99} ms (${r.newhost.ok} ok)${bad(r.newhost)}` : '';
  if (label === 'new connection') return r.newconn ? `p50 ${r.newconn.p50} ms p99 ${r.newconn.p99} ms (${r.newconn.ok} ok)${bad(r.newconn)}` : '';
  const m = /^small c=(\d+)$/.exec(label);
  if (m) {
    const x = r.small?.[m[1]];
    return x ? `${x.rps} req/s p50 ${x.p50} ms p99 ${x.p99} ms (${x.ok} ok)${bad(x)}` : '';
  }
  if (label.startsWith('idle')) return r.idle ? `${r.idle.opened} open, RSS ${r.idle.rssBeforeMb} -> ${r.idle.rssAfterMb} MB` : '';
  if (label === 'stream (swapped)') return r.stream ? `${r.stream.mbPerSec} MB/s${r.stream.peakRssMb ? `, peak RSS ${r.stream.peakRssMb} MB` : ''}${r.stream.complete ? '' : ' INCOMPLETE'}` : '';
  if (label === 'stream (no token)') return r.streamNoSwap ? `${r.streamNoSwap.mbPerSec} MB/s${r.streamNoSwap.complete ? '' : ' INCOMPLETE'}` : '';
  return '';
}

main().catch(async (e) => {
  process.stderr.write(`bench failed: ${e.stack ?? e}\n`);
  await stopAll();
  process.exit(1);
});
