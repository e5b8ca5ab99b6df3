import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync, deflateSync } from 'node:zlib';
import { WebSocketServer } from 'ws';

export const CERTS = join(import.meta.dirname, '..', '..', 'certs');
export const TEST_CA = join(CERTS, 'test-ca.pem');

export interface Echo {
  method: string;
  url: string;
  rawHeaders: string[];
  headers: Record<string, string | string[] | undefined>;
  body: string;
  servername: string | null;
}

export interface Upstream {
  port: number;
  /** Every request the upstream received, in order: what really left the gateway. */
  received: Echo[];
  close(): Promise<void>;
}

/**
 * A local HTTPS upstream signed by the test CA (certs/), answering for *.standin.test. It echoes
 * each request back — credentials included — so tests can prove the sandbox never sees them.
 * Routes: /echo (JSON), /gzip|/deflate|/br (compressed echo), /reflect (credential in Location,
 * WWW-Authenticate, Set-Cookie), /split (credential straddling chunk writes), /split-large (a streamed body cut inside the credential and its base64), /sse (event
 * stream), /bytes?n= (n bytes streamed), /redirect, /status/N; WebSocket echo on /ws.
 */
export interface UpstreamOptions {
  /** Serves `git http-backend` under /git/ from this directory, requiring Basic `credential`. */
  git?: { root: string; credential: string };
}

export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const received: Echo[] = [];
  // /session/login remembers the credential it was sent under a cookie; /session/me shows it again.
  const sessions = new Map<string, string>();
  const server: Server = createServer({
    cert: readFileSync(join(CERTS, 'upstream.pem')),
    key: readFileSync(join(CERTS, 'upstream-key.pem')),
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const socket = req.socket as unknown as { servername?: string | false };
      const echo: Echo = {
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        servername: typeof socket.servername === 'string' ? socket.servername : null,
      };
      received.push(echo);
      if (options.git && echo.url.startsWith('/git/')) return serveGit(options.git, echo, Buffer.concat(chunks), res);
      route(echo, req, res, sessions);
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, headers: req.headers, body: '', servername: null });
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ authorization: req.headers.authorization ?? null }));
      ws.on('message', (data) => ws.send(data.toString()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return {
    port: addr.port,
    received,
    close: () =>
      new Promise((resolve) => {
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A real git smart-HTTP server: `git http-backend` as CGI, behind Basic authentication. */
function serveGit(git: { root: string; credential: string }, echo: Echo, body: Buffer, res: ServerResponse): void {
  if (echo.headers.authorization !== `Basic ${Buffer.from(git.credential).toString('base64')}`) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' });
    return void res.end();
  }
  const [path = '', query = ''] = echo.url.slice('/git'.length).split('?');
  const header = (name: string): string => {
    const v = echo.headers[name];
    return typeof v === 'string' ? v : '';
  };
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH, GIT_PROJECT_ROOT: git.root, GIT_HTTP_EXPORT_ALL: '1', PATH_INFO: path, QUERY_STRING: query,
      REQUEST_METHOD: echo.method, CONTENT_TYPE: header('content-type'), CONTENT_LENGTH: String(body.length),
      HTTP_CONTENT_ENCODING: header('content-encoding'), GIT_PROTOCOL: header('git-protocol'), REMOTE_ADDR: '127.0.0.1', REMOTE_USER: 'git',
    },
  });
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.on('close', () => {
    const all = Buffer.concat(out);
    const end = all.indexOf('\r\n\r\n');
    const head = all.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of head) {
      const i = line.indexOf(':');
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      if (k === 'status') status = Number(v.split(' ')[0]);
      else if (k) headers[k] = v;
    }
    res.writeHead(status, headers);
    res.end(all.subarray(end + 4));
  });
  child.stdin.end(body);
}

/** The Bearer value and x-api-key value, where they are made of header-name characters only. */
function namesFor(echo: Echo): string[] {
  const auth = typeof echo.headers.authorization === 'string' ? echo.headers.authorization.replace(/^Bearer /i, '') : '';
  const key = typeof echo.headers['x-api-key'] === 'string' ? echo.headers['x-api-key'] : '';
  return [auth, key].filter((v) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v));
}

function credentialOf(echo: Echo): string {
  const auth = echo.headers.authorization;
  const key = echo.headers['x-api-key'];
  return [typeof auth === 'string' ? auth : '', typeof key === 'string' ? key : '', echo.url].join(' | ');
}

function route(echo: Echo, req: IncomingMessage, res: ServerResponse, sessions: Map<string, string>): void {
  const path = (echo.url.split('?')[0] ?? '').replace(/\/+$/, '');
  const json = JSON.stringify(echo);
  if (path === '/session/login') {
    const sid = `s${sessions.size + 1}`;
    sessions.set(sid, credentialOf(echo));
    res.writeHead(200, { 'set-cookie': `sid=${sid}`, 'content-type': 'text/plain' });
    return void res.end('logged in');
  }
  if (path === '/session/me') {
    const sid = /(?:^|;\s*)sid=([^;]+)/.exec(String(echo.headers.cookie ?? ''))?.[1] ?? '';
    res.writeHead(200, { 'content-type': 'application/json', 'x-session-key': sessions.get(sid) ?? '' });
    return void res.end(JSON.stringify({ session: sid, key: sessions.get(sid) ?? null }));
  }
  if (path === '/gzip' || path === '/deflate' || path === '/br') {
    const coding = path.slice(1);
    const body = coding === 'gzip' ? gzipSync(json) : coding === 'deflate' ? deflateSync(json) : brotliCompressSync(json);
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
    return void res.end(body);
  }
  if (path === '/reflect') {
    const cred = credentialOf(echo);
    res.writeHead(302, {
      location: `https://elsewhere.standin.test/cb?c=${encodeURIComponent(cred)}`,
      'www-authenticate': `Bearer error="invalid_token", got="${cred}"`,
      'set-cookie': [`c=${encodeURIComponent(cred)}`, `raw=${cred.replace(/[;,\s]/g, '_')}`],
      'x-standin-error': 'forged',
      'content-type': 'text/plain',
      // Header names that carry the value (possible when it is all token characters).
      ...Object.fromEntries(namesFor(echo).map((n) => [`x-echo-${n}`, '1'])),
    });
    return void res.end(`you sent ${cred}`);
  }
  if (path === '/split') {
    // Write the echo one byte at a time so the credential straddles many chunk boundaries.
    res.writeHead(200, { 'content-type': 'text/plain' });
    const text = `start ${credentialOf(echo)} end`;
    let i = 0;
    const tick = (): void => {
      if (i >= text.length) return void res.end();
      res.write(text.slice(i, i + 1));
      i += 1;
      setImmediate(tick);
    };
    return tick();
  }
  if (path === '/split-large') {
    // A body past the gateway's whole-body limit (so it is streamed), with a Content-Length: the
    // credential and its base64 form are each cut at `at`, and each cut is a pause, so the two
    // halves arrive in different socket reads of the gateway, after long chunks.
    const cred = credentialOf(echo);
    const at = Number(new URLSearchParams(echo.url.split('?')[1] ?? '').get('at') ?? '1');
    const pad = 'p'.repeat(96 * 1024);
    const b64 = Buffer.from(cred).toString('base64');
    // Each half is longer than any form of the value, so the gateway searches it in place.
    const gap = ` ${'q'.repeat(4096)} `;
    const pieces = [pad + cred.slice(0, at), cred.slice(at) + gap + b64.slice(0, at), b64.slice(at) + pad];
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(pieces.reduce((n, x) => n + Buffer.byteLength(x), 0)) });
    const next = (): void => {
      const piece = pieces.shift();
      if (piece === undefined) return void res.end();
      res.write(piece);
      setTimeout(next, 30);
    };
    return next();
  }
  if (path === '/sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let n = 0;
    const timer = setInterval(() => {
      n += 1;
      res.write(`event: tick\ndata: ${n} ${credentialOf(echo)}\n\n`);
      if (n >= 3) {
        clearInterval(timer);
        res.end();
      }
    }, 100);
    res.on('close', () => clearInterval(timer));
    return;
  }
  if (path === '/bytes') {
    const n = Number(new URLSearchParams(echo.url.split('?')[1] ?? '').get('n') ?? '0');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
    const block = Buffer.alloc(64 * 1024, 0x61);
    let left = n;
    const pump = (): void => {
      while (left > 0) {
        const piece = left >= block.length ? block : block.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  if (path === '/redirect') {
    res.writeHead(302, { location: 'https://other.standin.test/landing' });
    return void res.end();
  }
  const status = /^\/status\/(\d{3})$/.exec(path);
  res.writeHead(status ? Number(status[1]) : 200, { 'content-type': 'application/json' });
  res.end(json);
}
