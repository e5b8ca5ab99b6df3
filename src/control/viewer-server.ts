import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NetLogReader } from '../netlog/backend.js';
import { LogParamsError, viewExplain, viewRows, viewStats, type LogParams } from './log-views.js';
import { VIEWER_HEADERS } from './viewer/csp.js';
import { VIEWER_CSS, VIEWER_HTML } from './viewer/page.js';
import { VIEWER_JS } from './viewer/script.js';

export interface ViewerServerOptions {
  netlog: NetLogReader;
  tenant: string;
  /** 0: any free port. The server binds 127.0.0.1 only. */
  port?: number;
  clock?: () => number;
}

export interface ViewerServer {
  /** The one-time URL: opening it once sets the session cookie; it is refused after that. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const COOKIE = 'standin_log_ui';
const PARAMS = ['sandbox', 'host', 'decision', 'status', 'secret', 'method', 'since', 'until', 'afterId', 'limit'] as const;

/**
 * `standin log ui`: the log viewer of one tenant on 127.0.0.1, read-only. The printed URL carries a
 * one-time token; the first request with it gets a session cookie (HttpOnly, SameSite=Strict) and a
 * redirect that drops the token from the address bar; the token is then spent. Every other request
 * needs the cookie, and a Host header naming this very address (no DNS rebinding).
 */
export async function startViewerServer(o: ViewerServerOptions): Promise<ViewerServer> {
  const clock = o.clock ?? Date.now;
  const token = randomBytes(24).toString('base64url');
  let oneTime: Buffer | null = Buffer.from(token);
  const session = randomBytes(32).toString('base64url');
  let port = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.headers.host !== `127.0.0.1:${port}`) return send(res, 421, 'text/plain', 'wrong host\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'read-only\n');
    if (url.pathname === '/' && url.searchParams.has('token')) {
      const given = Buffer.from(url.searchParams.get('token') ?? '');
      if (oneTime === null || given.length !== oneTime.length || !timingSafeEqual(given, oneTime)) {
        return send(res, 403, 'text/plain', 'this link was already used or is wrong: run standin log ui again\n');
      }
      oneTime = null;
      res.writeHead(303, { location: '/ui/log', 'set-cookie': `${COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`, ...VIEWER_HEADERS, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (!hasSession(req, session)) return send(res, 401, 'text/plain', 'open the URL standin log ui printed\n');
    if (url.pathname === '/' || url.pathname === '/ui/log') return send(res, 200, 'text/html; charset=utf-8', VIEWER_HTML);
    if (url.pathname === '/ui/log.js') return send(res, 200, 'text/javascript; charset=utf-8', VIEWER_JS);
    if (url.pathname === '/ui/log.css') return send(res, 200, 'text/css; charset=utf-8', VIEWER_CSS);
    const p: LogParams = {};
    for (const k of PARAMS) {
      const v = url.searchParams.get(k);
      if (v !== null) p[k] = v;
    }
    try {
      if (url.pathname === '/v1/log') return json(res, 200, await viewRows(o.netlog, p, o.tenant, clock()));
      if (url.pathname === '/v1/log/stats') return json(res, 200, await viewStats(o.netlog, p, o.tenant, clock()));
      const explain = /^\/v1\/log\/explain\/([^/]+)$/.exec(url.pathname);
      if (explain !== null) {
        const view = await viewExplain(o.netlog, decodeURIComponent(explain[1] ?? ''), o.tenant);
        return view === undefined ? json(res, 404, { title: 'Not found', detail: 'no such request in this network log' }) : json(res, 200, view);
      }
    } catch (e) {
      if (e instanceof LogParamsError) return json(res, 400, { title: 'Invalid request', detail: e.message });
      return json(res, 500, { title: 'Internal error' });
    }
    return json(res, 404, { title: 'Not found' });
  };

  const server: Server = createServer({ maxHeaderSize: 16 * 1024, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { title: 'Internal error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function hasSession(req: IncomingMessage, session: string): boolean {
  const cookies = (req.headers.cookie ?? '').split(';').map((c) => c.trim());
  const want = Buffer.from(`${COOKIE}=${session}`);
  return cookies.some((c) => {
    const b = Buffer.from(c);
    return b.length === want.length && timingSafeEqual(b, want);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...VIEWER_HEADERS });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, status >= 400 ? 'application/problem+json' : 'application/json', JSON.stringify(value));
}
