import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, openTunnel } from '../helpers/client.js';
import { removeHome, startServe, type ServeProcess } from '../helpers/serve.js';
import { CERTS, startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * `serve --workers 2`: two proxy processes behind one port, one store, one CA, one network log.
 * Which worker holds a connection is read from the kernel (/proc/net/tcp and each worker's fds),
 * so every claim about "each worker" is checked on the worker that really served the request.
 */

const HOST = 'api.standin.test';
const REAL_1 = 'real-workers-value-one-5e4d3c2b1a';
const REAL_2 = 'real-workers-value-two-0f9e8d7c6b';

interface Tunnel {
  tls: TLSSocket;
  localPort: number;
}

interface Sandbox {
  proxyPort: number;
  proxyAuth: string;
  token: string;
  ca: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function sandboxOf(gw: ServeProcess, name: string, tokenVar: string): Sandbox {
  const env = gw.sandboxEnv(name);
  const proxy = new URL(env.HTTPS_PROXY ?? '');
  return {
    proxyPort: Number(proxy.port),
    proxyAuth: basicAuth(decodeURIComponent(proxy.username), decodeURIComponent(proxy.password)),
    token: env[tokenVar] ?? '',
    ca: gw.cli(['ca', 'export']).stdout,
  };
}

async function tunnel(sb: Sandbox, port: number): Promise<Tunnel> {
  const tls = await openTunnel(sb.proxyPort, `${HOST}:${port}`, sb.proxyAuth, sb.ca, HOST);
  // The TLS socket runs on the CONNECT socket: its local port names the connection in the kernel.
  return { tls, localPort: tls.localPort ?? 0 };
}

/** One keep-alive request on an open tunnel; the whole response (Content-Length or chunked). */
function request(t: Tunnel, path: string, port: number, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error('response timeout')), 15_000);
    const finish = (e?: Error): void => {
      clearTimeout(timer);
      t.tls.off('data', onData);
      if (e) reject(e);
    };
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const body = buf.subarray(end + 4);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const done = length ? body.length >= Number(length[1]) : body.includes('\r\n0\r\n\r\n');
      if (!done) return;
      finish();
      resolve({ status: Number(head.split(' ')[1]), body: body.toString('utf8') });
    };
    t.tls.on('data', onData);
    t.tls.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  });
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The worker (among `pids`) holding the gateway's end of the client connection from `clientPort`. */
function workerHolding(proxyPort: number, clientPort: number, pids: number[]): number | undefined {
  const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1] === `0100007F:${hex(proxyPort)}` && f[2] === `0100007F:${hex(clientPort)}`);
  const inode = line?.[9];
  if (inode === undefined) return undefined;
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

function rows(home: string, where = '1 = 1'): Record<string, unknown>[] {
  const db = new Database(join(home, 'standin.db'), { readonly: true });
  try {
    return db.prepare(`SELECT * FROM network_log WHERE ${where} ORDER BY id`).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

describe('serve --workers 2', () => {
  let upstream: Upstream;
  let gw: ServeProcess;
  let sb: Sandbox;
  let requestsSent = 0;

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startServe(upstream.port, [HOST], ['--workers', '2']);
    expect(gw.cli(['secret', 'create', 'key', '--hosts', `${HOST}:${upstream.port}`, '--value-stdin'], `${REAL_1}\n`).code).toBe(0);
    expect(gw.cli(['sandbox', 'create', 'agent', '--bind', 'API_KEY=key']).code).toBe(0);
    sb = sandboxOf(gw, 'agent', 'API_KEY');
    await until('two workers', () => childPids(gw.pid).length === 2);
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    if (gw) removeHome(gw.home);
  });

  it('a secret rotated with the CLI is what each worker sends on its very next request', async () => {
    const workers = childPids(gw.pid);
    const port = upstream.port;
    const tunnels = await Promise.all([0, 1, 2, 3].map(() => tunnel(sb, port)));
    const holders = tunnels.map((t) => workerHolding(sb.proxyPort, t.localPort, workers));
    // Connections are dealt round-robin: both workers hold some of them.
    expect(new Set(holders).size).toBe(2);
    for (const t of tunnels) expect((await request(t, '/echo', port, sb.token)).status).toBe(200);
    requestsSent += 4;
    expect(upstream.received.slice(-4).map((e) => e.headers.authorization)).toEqual(Array(4).fill(`Bearer ${REAL_1}`));

    expect(gw.cli(['secret', 'rotate', 'key', '--value-stdin'], `${REAL_2}\n`).code).toBe(0);
    // No pause: the same keep-alive connections, on both workers, right after the CLI returned.
    for (const t of tunnels) {
      const r = await request(t, '/echo', port, sb.token);
      expect(r.status).toBe(200);
      // The echo carries what the upstream got; the sandbox sees neither value.
      expect(r.body).not.toContain(REAL_1);
      expect(r.body).not.toContain(REAL_2);
    }
    requestsSent += 4;
    expect(upstream.received.slice(-4).map((e) => e.headers.authorization)).toEqual(Array(4).fill(`Bearer ${REAL_2}`));
    for (const t of tunnels) t.tls.destroy();
  }, 60_000);

  it('a worker killed mid-download is replaced, and the row of the request it forwarded is kept', async () => {
    const port = upstream.port;
    const before = childPids(gw.pid);
    const dl = await tunnel(sb, port);
    const victim = workerHolding(sb.proxyPort, dl.localPort, before);
    expect(victim).toBeDefined();
    // A large download read by nobody: it stays in flight (backpressure) until the worker dies.
    dl.tls.pause();
    dl.tls.write(`GET /bytes?n=400000000 HTTP/1.1\r\nHost: ${HOST}:${port}\r\nAuthorization: Bearer ${sb.token}\r\n\r\n`);
    requestsSent += 1;
    await until('the download upstream', () => upstream.received.some((e) => e.url.startsWith('/bytes')));
    expect(upstream.received.find((e) => e.url.startsWith('/bytes'))?.headers.authorization).toBe(`Bearer ${REAL_2}`);
    process.kill(victim ?? 0, 'SIGKILL');
    await until('a replacement worker', () => {
      const now = childPids(gw.pid);
      return now.length === 2 && !now.includes(victim ?? 0);
    });
    dl.tls.destroy();
    const after = childPids(gw.pid);
    const replacement = after.find((p) => !before.includes(p));
    expect(replacement).toBeDefined();
    await until('the replacement to listen', () => gw.stderr().includes(`"pid":${replacement},"msg":"proxy worker listening"`), 30_000);

    // New connections reach the replacement too, and are served there.
    const served = new Set<number | undefined>();
    for (let i = 0; i < 6 && !served.has(replacement); i++) {
      const t = await tunnel(sb, port);
      served.add(workerHolding(sb.proxyPort, t.localPort, after));
      expect((await request(t, '/echo', port, sb.token)).status).toBe(200);
      requestsSent += 1;
      t.tls.destroy();
    }
    expect(served.has(replacement)).toBe(true);

    // The forwarded row left the worker (in its row file) before the credential did; the primary
    // read it after the worker died and closed it: it names the credential sent and why it ended.
    await until('the download row', () => rows(gw.home, "path LIKE '/bytes%' AND complete = 1").length === 1);
    expect(rows(gw.home, "path LIKE '/bytes%'")).toHaveLength(1);
    expect(rows(gw.home, "path LIKE '/bytes%'")[0]).toMatchObject({ complete: 1, decision: 'swapped', error_code: 'GW_WORKER_EXITED', sandbox: 'agent', secrets: '["key@2"]', method: 'GET' });
    expect(gw.stderr()).toMatch(/proxy worker exited; starting a replacement/);
  }, 60_000);

  it('SIGTERM drains both workers: a download in flight completes, every row is written, and the chain verifies', async () => {
    const port = upstream.port;
    const workers = childPids(gw.pid);
    // Busy connections on both workers, then a slowly read download while the signal arrives.
    const tunnels = await Promise.all([0, 1, 2, 3].map(() => tunnel(sb, port)));
    expect(new Set(tunnels.map((t) => workerHolding(sb.proxyPort, t.localPort, workers))).size).toBe(2);
    for (const t of tunnels) expect((await request(t, '/echo', port, sb.token)).status).toBe(200);
    requestsSent += 4;
    const size = 4_000_000;
    const dl = tunnels[0] as Tunnel;
    // A scrubbed stream is re-framed as chunks: it is complete at the last chunk, with every byte.
    let received = 0;
    let tail = '';
    const complete = new Promise<void>((resolve, reject) => {
      dl.tls.on('data', (c: Buffer) => {
        received += c.length;
        tail = (tail + c.subarray(-16).toString('latin1')).slice(-16);
        if (tail.endsWith('\r\n0\r\n\r\n')) resolve();
        // Read slowly: the download lasts about a second, across the signal.
        dl.tls.pause();
        setTimeout(() => dl.tls.resume(), 4);
      });
      dl.tls.once('close', () => reject(new Error(`cut after ${received} bytes`)));
    });
    dl.tls.write(`GET /bytes?n=${size} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nAuthorization: Bearer ${sb.token}\r\n\r\n`);
    requestsSent += 1;
    await until('the download to start', () => received > 0);
    const exited = new Promise<number | null>((resolve) => gw.child.once('exit', (code) => resolve(code)));
    process.kill(gw.pid, 'SIGTERM');
    await complete;
    expect(received).toBeGreaterThan(size);
    for (const t of tunnels) t.tls.destroy();
    expect(await exited).toBe(0);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();

    const all = rows(gw.home, "method != 'CONNECT'");
    // One row per request that reached the gateway, every one complete (the killed worker's
    // download was closed by the primary); the drained download completed for real.
    expect(all).toHaveLength(requestsSent);
    expect(all.filter((r) => r.complete === 0)).toEqual([]);
    expect(all.filter((r) => r.error_code === 'GW_WORKER_EXITED').map((r) => String(r.path))).toEqual(['/bytes?n=[redacted]']);
    expect(all.find((r) => r.path === '/bytes?n=[redacted]' && r.error_code === null)).toMatchObject({ bytes_in: size, status: 200 });
    const verify = gw.cli(['log', 'verify']);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    const text = JSON.stringify(rows(gw.home)) + gw.stdout() + gw.stderr();
    expect(text).not.toContain(REAL_1);
    expect(text).not.toContain(REAL_2);
  }, 60_000);
});

describe('per-sandbox limits across workers', () => {
  let server: Server;
  let gw: ServeProcess;
  let inFlight = 0;
  let maxInFlight = 0;

  beforeAll(async () => {
    // An upstream that holds each response 300 ms and counts how many it holds at once.
    server = createServer({ cert: readFileSync(join(CERTS, 'upstream.pem')), key: readFileSync(join(CERTS, 'upstream-key.pem')) }, (req, res) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      req.resume();
      setTimeout(() => {
        inFlight -= 1;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      }, 300);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    gw = await startServe(port, [HOST], ['--workers', '2', '--upstream-sockets-per-host', '2']);
    expect(gw.cli(['secret', 'create', 'key', '--hosts', `${HOST}:${port}`, '--value-stdin'], `${REAL_1}\n`).code).toBe(0);
    expect(gw.cli(['sandbox', 'create', 'agent', '--bind', 'API_KEY=key']).code).toBe(0);
    await until('two workers', () => childPids(gw.pid).length === 2);
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await new Promise<void>((r) => server?.close(() => r()));
    if (gw) removeHome(gw.home);
  });

  it('--upstream-sockets-per-host 2 holds for the sandbox as a whole: each worker keeps its share of 1', async () => {
    const port = (server.address() as { port: number }).port;
    const sb = sandboxOf(gw, 'agent', 'API_KEY');
    const tunnels = await Promise.all(Array.from({ length: 8 }, () => tunnel(sb, port)));
    const workers = childPids(gw.pid);
    expect(new Set(tunnels.map((t) => workerHolding(sb.proxyPort, t.localPort, workers))).size).toBe(2);
    const replies = await Promise.all(tunnels.map((t) => request(t, '/x', port, sb.token)));
    expect(replies.map((r) => r.status)).toEqual(Array(8).fill(200));
    // Eight requests at once from one sandbox; never more than two upstream at a time, and both
    // workers used theirs (a cap of one overall would have been a worse split, not a safer one).
    expect(maxInFlight).toBe(2);
    for (const t of tunnels) t.tls.destroy();
  }, 60_000);
});
