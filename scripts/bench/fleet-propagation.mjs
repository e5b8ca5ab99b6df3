#!/usr/bin/env node
// `node scripts/bench/fleet-propagation.mjs [--quick]` (issue 16): a fleet of three gateways on
// one throwaway PostgreSQL (Debian postgresql 15, started here, as the postgres user when root).
//   1. propagation: a rotation committed through gateway A's control API, until gateways B and C
//      each apply the new value to a sandbox's request (p50/p99 over the rounds);
//   2. keep-alive throughput of one gateway on PostgreSQL vs one on SQLite (same client, same
//      upstream, interleaved): they should match, since the request path reads memory.
// The upstream answers with a hash of the Authorization it received (never the value), so the
// value applied is known without the value ever leaving this process. Loopback only.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, request as httpsRequest } from 'node:https';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpsProxyAgent } from 'hpagent';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const CERTS = join(ROOT, 'certs');
const HOST = 'api.standin.test';
const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const ROUNDS = quick ? 15 : 40;
const THROUGHPUT_MS = quick ? 3_000 : 6_000;
const CONCURRENCY = 16;
const log = (s) => process.stdout.write(`${s}\n`);
const sha = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'standin-fleet-bench-'));
  let pg;
  let upstream;
  try {
    pg = await startPostgres(tmp);
    upstream = await startUpstream();
    const env = { STANDIN_DATABASE_URL: pg.url, STANDIN_MASTER_KEY: randomBytes(32).toString('base64') };
    const gws = await Promise.all(['a', 'b', 'c'].map((n) => startGateway(join(tmp, n), upstream.port, env)));
    const [a, b, c] = gws;
    log(`fleet: 3 gateways on ${pg.display}; upstream :${upstream.port}`);
    let value = `sk-bench-${randomBytes(8).toString('hex')}`;
    cli(a, ['secret', 'create', 'fleet', '--hosts', `${HOST}:${upstream.port}`, '--value-stdin'], value);
    const created = JSON.parse(cli(a, ['sandbox', 'create', 'agent', '--bind', 'K=fleet', '--json']));
    const token = created.env.K;
    const proxyKey = /^http:\/\/agent:([^@]+)@/.exec(created.env.HTTPS_PROXY)[1];
    const ca = readFileSync(join(a.home, 'ca', 'ca.pem'), 'utf8');
    const clientOf = (g) => client(g.proxy, proxyKey, ca, token, upstream.port);

    // 1. propagation
    const observers = [b, c].map((g) => ({ name: g.name, c: clientOf(g) }));
    for (const o of observers) await o.c.get();
    const samples = [];
    for (let round = 0; round < ROUNDS; round++) {
      value = `sk-bench-${randomBytes(8).toString('hex')}`;
      const want = sha(`Bearer ${value}`);
      const seen = observers.map((o) => watch(o.c, want));
      const committed = await controlPost(a, '/v1/secrets/fleet/rotate', { value });
      for (const t of await Promise.all(seen)) samples.push(Math.max(0, t - committed));
      await sleep(100);
    }
    samples.sort((x, y) => x - y);
    const pct = (p) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
    log(`propagation over ${ROUNDS} rotations x 2 gateways: p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${samples.at(-1).toFixed(1)} ms`);

    // 2. throughput, like with like: the fleet's gateways stop first (they share the cores), then
    //    ONE gateway on PostgreSQL and ONE on SQLite, each started alone with the same flags
    //    (workers, log level, node flags), measured in turn, interleaved.
    for (const g of gws) await stopGateway(g);
    const workers = process.env.BENCH_STANDIN_WORKERS ?? '1';
    const nodeArgs = (process.env.BENCH_STANDIN_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const solo = async (name, soloEnv) => {
      const g = await startGateway(join(tmp, name), upstream.port, soloEnv, ['--workers', workers], nodeArgs);
      cli(g, ['secret', 'create', `solo-${name}`, '--hosts', `${HOST}:${upstream.port}`, '--value-stdin'], `sk-solo-${name}`);
      const e = JSON.parse(cli(g, ['sandbox', 'create', `agent-${name}`, '--bind', `K=solo-${name}`, '--json'])).env;
      const key = /^http:\/\/[^:]+:([^@]+)@/.exec(e.HTTPS_PROXY)[1];
      const soloCa = readFileSync(join(g.home, 'ca', 'ca.pem'), 'utf8');
      return { g, make: () => client(g.proxy, key, soloCa, e.K, upstream.port, `agent-${name}`) };
    };
    const rates = { postgres: [], sqlite: [] };
    // CPU per request (µs) of the gateway (and its workers), of PostgreSQL's processes and of this
    // process (clients + upstream): on 2 cores, whatever PostgreSQL spends is taken from the others.
    const cpu = { postgres: [], sqlite: [] };
    const ROUNDS_TP = quick ? 2 : 3;
    for (let i = 0; i < ROUNDS_TP; i++) {
      // A fresh gateway per round and backend, one at a time: nothing else of ours runs beside it.
      for (const kind of i % 2 === 0 ? ['postgres', 'sqlite'] : ['sqlite', 'postgres']) {
        const s = await solo(`${kind}-${i}`, kind === 'postgres' ? env : {});
        const before = { gw: cpuTicks(treeOf(s.g.child.pid)), pg: cpuTicks(treeOf(pg.pid())), self: process.cpuUsage() };
        const r = await throughput(s.make);
        const self = process.cpuUsage(before.self);
        const per = (ticks) => (ticks * 10_000) / r.done;
        const c = { gateway: per(cpuTicks(treeOf(s.g.child.pid)) - before.gw), postgres: per(cpuTicks(treeOf(pg.pid())) - before.pg), bench: (self.user + self.system) / r.done };
        rates[kind].push(r.rate);
        cpu[kind].push(c);
        log(`  ${kind} round ${i + 1}: ${r.rate.toFixed(0)} req/s; CPU per request: gateway ${c.gateway.toFixed(0)} µs, PostgreSQL ${c.postgres.toFixed(0)} µs, clients+upstream ${c.bench.toFixed(0)} µs (gateway pid ${s.g.child.pid})`);
        await stopGateway(s.g);
      }
    }
    const best = (xs) => Math.max(...xs);
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    log(`keep-alive throughput (${CONCURRENCY} clients, swapped requests, --workers ${workers}, one gateway alone): PostgreSQL ${rates.postgres.map((r) => r.toFixed(0)).join('/')} req/s, SQLite ${rates.sqlite.map((r) => r.toFixed(0)).join('/')} req/s, ratio of medians ${(median(rates.postgres) / median(rates.sqlite)).toFixed(2)}, of bests ${(best(rates.postgres) / best(rates.sqlite)).toFixed(2)}`);
    mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench-results', 'fleet.json'), `${JSON.stringify({ at: new Date().toISOString(), quick, rounds: ROUNDS, propagationMs: { p50: pct(50), p99: pct(99), max: samples.at(-1) }, throughput: { workers, ...rates, cpuPerRequestUs: cpu } }, null, 2)}\n`);
  } finally {
    for (const ch of children) ch.kill('SIGTERM');
    await sleep(500);
    // Its keep-alive sockets would keep this process alive after the report.
    upstream?.close();
    pg?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

function cli(g, args, input) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...g.env, STANDIN_HOME: g.home }, input, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`standin ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function startGateway(home, upstreamPort, env, extra = [], nodeArgs = []) {
  const args = [CLI, 'serve', '--listen', '127.0.0.1:0', '--upstream-ca', join(CERTS, 'test-ca.pem'), '--allow-dest', `127.0.0.1:${upstreamPort}`, '--resolve', `${HOST}=127.0.0.1`, '--log-level', 'warn', ...extra];
  const child = spawn(process.execPath, ['--max-semi-space-size=4', ...nodeArgs, ...args], { env: { ...process.env, ...env, STANDIN_HOME: home }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const proxy = await new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error('serve did not start in 60 s')), 60_000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = /standin listening on http:\/\/(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    child.once('exit', (code) => rej(new Error(`serve exited ${code}`)));
  });
  return { name: home.split('/').at(-1), home, env, proxy, child };
}

// SIGTERM and wait for the exit (a --cpu-prof profile is written then).
function stopGateway(g) {
  if (g.child.exitCode !== null) return Promise.resolve();
  return new Promise((res) => {
    g.child.once('exit', () => res());
    g.child.kill('SIGTERM');
  });
}

// A keep-alive client through the gateway (one tunnel), answering the hash the upstream saw.
function client(proxy, proxyKey, ca, token, port, sandbox = 'agent') {
  const agent = new HttpsProxyAgent({ proxy: `http://${sandbox}:${proxyKey}@${proxy}`, ca, keepAlive: true, maxSockets: 1 });
  return {
    get: () =>
      new Promise((res, rej) => {
        const req = httpsRequest(`https://${HOST}:${port}/`, { agent, ca, headers: { authorization: `Bearer ${token}` } }, (r) => {
          let body = '';
          r.on('data', (c) => (body += c));
          r.on('end', () => res({ status: r.statusCode, hash: body }));
          r.on('error', rej);
        });
        req.on('error', rej);
        req.end();
      }),
    close: () => agent.destroy(),
  };
}

// Time (performance.now) at which the client first gets `want` applied; bounded to 10 s.
async function watch(c, want) {
  const end = performance.now() + 10_000;
  for (;;) {
    const r = await c.get().catch(() => undefined);
    if (r?.hash === want) return performance.now();
    if (performance.now() > end) throw new Error('rotation not seen within 10 s');
  }
}

function controlPost(g, path, body) {
  return new Promise((res, rej) => {
    const data = JSON.stringify(body);
    const req = httpRequest({ socketPath: join(g.home, 'run', 'control.sock'), path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (r) => {
      r.resume();
      r.on('end', () => (r.statusCode === 200 ? res(performance.now()) : rej(new Error(`rotate answered ${r.statusCode}`))));
    });
    req.on('error', rej);
    req.end(data);
  });
}

async function throughput(make) {
  const clients = Array.from({ length: CONCURRENCY }, make);
  for (const c of clients) await c.get();
  let done = 0;
  const start = performance.now();
  const end = start + THROUGHPUT_MS;
  await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; i < 1_000_000 && performance.now() < end; i++) {
        const r = await c.get();
        if (r.status === 200) done++;
      }
    }),
  );
  const rate = done / ((performance.now() - start) / 1000);
  for (const c of clients) c.close();
  return { rate, done };
}

// utime + stime of processes, in clock ticks (Linux /proc, 100 per second).
function cpuTicks(pids) {
  let t = 0;
  for (const pid of pids) {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      t += Number(f[11]) + Number(f[12]);
    } catch {
      // gone meanwhile
    }
  }
  return t;
}

// A process and its descendants (the gateway's workers; the postmaster's backends).
function treeOf(root) {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  if (root) walk(root);
  return out;
}

function startUpstream() {
  const server = createServer({ key: readFileSync(join(CERTS, 'upstream-key.pem')), cert: readFileSync(join(CERTS, 'upstream.pem')), keepAliveTimeout: 120_000 }, (req, res) => {
    const body = sha(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ port: server.address().port, close: () => {
    server.closeAllConnections();
    server.close();
  } })));
}

async function startPostgres(tmp) {
  const BIN = '/usr/lib/postgresql/15/bin';
  const root = process.getuid?.() === 0;
  const dir = join(tmp, 'pg');
  execFileSync('mkdir', ['-p', dir]);
  if (root) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'])), Number(execFileSync('id', ['-g', 'postgres'])));
  chmodSync(dir, 0o700);
  chmodSync(tmp, 0o755);
  const run = (cmd, args, input) => execFileSync(root ? 'runuser' : join(BIN, cmd), root ? ['-u', 'postgres', '--', join(BIN, cmd), ...args] : args, { input, stdio: ['pipe', 'pipe', 'pipe'], cwd: dir }).toString();
  const port = await new Promise((res) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
  const password = randomBytes(12).toString('hex');
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-N', '-A', 'trust', '--auth-host=scram-sha-256', '--locale=C', '-E', 'UTF8', '-U', 'postgres']);
  const conf = join(data, 'postgresql.conf');
  writeFileSync(conf, `${readFileSync(conf, 'utf8')}\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n`);
  run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', 'start']);
  const sql = (s) => run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-X', '-q'], s);
  sql(`CREATE ROLE bench LOGIN PASSWORD '${password}'; CREATE DATABASE bench OWNER bench;`);
  return {
    url: `postgres://bench:${password}@127.0.0.1:${port}/bench`,
    display: `postgres://bench:***@127.0.0.1:${port}/bench`,
    stop: () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
    pid: () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
  };
}

main().catch((e) => {
  process.stderr.write(`fleet bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  for (const ch of children) ch.kill('SIGTERM');
  process.exitCode = 1;
});
