#!/usr/bin/env node
// `npm run bench:h2 [-- --quick]`: HTTP/2 against HTTP/1.1 through the gateway — many concurrent
// small requests over ONE sandbox connection — in both mappings (h2 or HTTP/1.1 on each side),
// with direct connections as the reference. Loopback only; upstreams and the gateway in their
// own processes, this process is the client (Node's http2 client; CONNECT done by hand since it
// has no proxy support). Prints a Markdown table and writes bench-results/h2.json.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { installCleanup, run, start, stopAll, waitForLine } from './lib/procs.mjs';
import { summarise } from './lib/stats.mjs';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const quick = process.argv.includes('--quick');
const SECONDS = quick ? 3 : 8;
const STREAMS = 64;
const log = (s) => process.stdout.write(`${s}\n`);

/** CONNECT through the gateway as the sandbox; resolves with the raw tunnel socket. */
function tunnel(proxy, authority, auth) {
  return new Promise((resolve, reject) => {
    const s = netConnect(proxy.port, proxy.host);
    let buf = '';
    s.on('data', function onData(d) {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      s.off('data', onData);
      if (!buf.startsWith('HTTP/1.1 200')) return reject(new Error(buf.split('\r\n')[0]));
      resolve(s);
    });
    s.once('error', reject);
    s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${auth}\r\n\r\n`);
  });
}

/** Keeps `concurrency` requests in flight for `seconds` on one h2 session; latencies in ms. */
async function loadH2(session, headers, concurrency, seconds) {
  const lat = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const st = session.request(headers, { endStream: true });
      st.on('response', (h) => h[':status'] !== 200 && errors++);
      st.on('data', () => undefined);
      st.on('error', () => errors++);
      st.on('close', () => {
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        resolve();
      });
    });
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) await one();
  }));
  return { lat, errors, seconds };
}

/** The same with HTTP/1.1 on `connections` keep-alive connections (one request in flight on each). */
async function loadH1(makeSocket, authority, headers, connections, seconds) {
  const lat = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    const socket = await makeSocket();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agent.createConnection = () => socket;
    while (Date.now() < end && !socket.destroyed) {
      const t0 = process.hrtime.bigint();
      await new Promise((resolve) => {
        const req = httpsRequest({ host: authority.split(':')[0], port: Number(authority.split(':')[1]), path: '/v1/x', headers, agent }, (res) => {
          if (res.statusCode !== 200) errors++;
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', () => {
          errors++;
          resolve();
        });
        req.end();
      });
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    socket.destroy();
  }));
  return { lat, errors, seconds };
}

async function main() {
  installCleanup();
  const certDir = join(repoRoot, 'certs');
  const testCa = readFileSync(join(certDir, 'test-ca.pem'), 'utf8');
  const main = join(repoRoot, 'dist/cli/main.js');
  const home = mkdtempSync(join(tmpdir(), 'standin-bench-h2-'));
  const results = [];
  try {
    const up = start(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'h2-upstream.mjs'), certDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [line] = await waitForLine(up, /^\{.*\}$/m, 10_000);
    const ports = JSON.parse(line);
    const env = { ...process.env, STANDIN_HOME: home };
    const cli = (args, input) => run(process.execPath, [main, ...args], { env, input, timeoutMs: 30_000 });
    const real = `sk-bench-real-${randomBytes(12).toString('hex')}`;
    await cli(['init']);
    await cli(['secret', 'create', 'key', '--hosts', `api.standin.test:${ports.h2},api.standin.test:${ports.h1}`, '--scheme', 'bearer', '--value-stdin'], real);
    const created = JSON.parse((await cli(['sandbox', 'create', 'bench', '--bind', 'K=key', '--json'])).stdout);
    const proxyUrl = new URL(created.env.HTTPS_PROXY);
    const auth = `Basic ${Buffer.from(`${decodeURIComponent(proxyUrl.username)}:${decodeURIComponent(proxyUrl.password)}`).toString('base64')}`;
    const token = created.env.K;
    const gwCa = (await cli(['ca', 'export'])).stdout;
    // BENCH_STANDIN_NODE_ARGS: extra node flags for the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const nodeArgs = ['--max-semi-space-size=4', ...(process.env.BENCH_STANDIN_NODE_ARGS ?? '').split(' ').filter(Boolean)];
    const gw = start(process.execPath, [...nodeArgs, main, 'serve', '--listen', '127.0.0.1:0', '--upstream-ca', join(certDir, 'test-ca.pem'), '--allow-dest', '127.0.0.1', '--resolve', 'api.standin.test=127.0.0.1', '--log-level', 'warn'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const [, address] = await waitForLine(gw, /standin listening on http:\/\/(\S+)/, 30_000);
    const proxy = { host: address.replace(/:\d+$/, ''), port: Number(address.split(':').at(-1)) };

    const viaGateway = (port, alpn) => async () => {
      const raw = await tunnel(proxy, `api.standin.test:${port}`, auth);
      return tlsConnect({ socket: raw, servername: 'api.standin.test', ca: gwCa, ALPNProtocols: alpn });
    };
    const direct = (port, alpn) => async () => tlsConnect({ host: '127.0.0.1', port, servername: 'api.standin.test', ca: testCa, ALPNProtocols: alpn });
    let h2Run = async (name, makeSocket, port, bearer) => {
      const socket = await makeSocket();
      const session = h2connect(`https://api.standin.test:${port}`, { createConnection: () => socket });
      session.on('error', () => undefined);
      const headers = { ':method': 'GET', ':path': '/v1/x', authorization: `Bearer ${bearer}` };
      await loadH2(session, headers, STREAMS, 1); // warm-up (TLS, upstream pools, caches)
      const r = await loadH2(session, headers, STREAMS, SECONDS);
      session.close();
      results.push({ name, ...r });
    };
    let h1Run = async (name, makeSocket, port, bearer, connections) => {
      const headers = { authorization: `Bearer ${bearer}`, host: `api.standin.test:${port}` };
      await loadH1(makeSocket, `api.standin.test:${port}`, headers, connections, 1);
      results.push({ name, ...(await loadH1(makeSocket, `api.standin.test:${port}`, headers, connections, SECONDS)) });
    };

    const only = process.env.BENCH_H2_ONLY;
    const wanted = (name) => only === undefined || name.includes(only);
    const h2RunAll = h2Run;
    const h1RunAll = h1Run;
    h2Run = async (name, ...rest) => (wanted(name) ? h2RunAll(name, ...rest) : undefined);
    h1Run = async (name, ...rest) => (wanted(name) ? h1RunAll(name, ...rest) : undefined);
    await h2Run(`direct, h2, 1 connection, ${STREAMS} streams`, direct(ports.h2, ['h2']), ports.h2, real);
    await h2Run(`standin h2 → h2 upstream, 1 connection, ${STREAMS} streams`, viaGateway(ports.h2, ['h2']), ports.h2, token);
    await h2Run(`standin h2 → HTTP/1.1 upstream, 1 connection, ${STREAMS} streams`, viaGateway(ports.h1, ['h2']), ports.h1, token);
    await h1Run('standin HTTP/1.1 → h2 upstream, 1 connection', viaGateway(ports.h2, ['http/1.1']), ports.h2, token, 1);
    await h1Run('standin HTTP/1.1 → HTTP/1.1 upstream, 1 connection', viaGateway(ports.h1, ['http/1.1']), ports.h1, token, 1);
    await h1Run('standin HTTP/1.1 → HTTP/1.1 upstream, 8 connections', viaGateway(ports.h1, ['http/1.1']), ports.h1, token, 8);
    await stopAll(5_000);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  const rows = results.map((r) => {
    const s = summarise(r.lat);
    return { name: r.name, rps: Math.round(r.lat.length / r.seconds), p50: s.p50, p99: s.p99, errors: r.errors };
  });
  const base = rows.find((r) => r.name.startsWith('standin HTTP/1.1 → HTTP/1.1 upstream, 1 connection'))?.rps ?? 1;
  log(`\n| ${quick ? 'quick' : 'full'} run, ${SECONDS} s each | req/s | p50 | p99 | vs HTTP/1.1 on 1 connection | errors |`);
  log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) log(`| ${r.name} | ${r.rps} | ${r.p50} ms | ${r.p99} ms | ${(r.rps / base).toFixed(2)}× | ${r.errors} |`);
  mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench-results/h2.json'), `${JSON.stringify({ at: new Date().toISOString(), seconds: SECONDS, streams: STREAMS, rows }, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench:h2 failed: ${e.stack ?? e}\n`);
  process.exit(1);
});
