import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { join } from 'node:path';
import { brotliCompressSync, constants, deflateSync, gzipSync } from 'node:zlib';
import { CERTS } from '../helpers/upstream.js';

/**
 * A hostile local upstream for the adversarial suite, next to the well-behaved one in
 * test/helpers/upstream.ts. It plays the part of a server that tries to get the real credential
 * back to the sandbox (reason phrase, trailers, early hints, mislabelled codings) or to exhaust the
 * gateway (decompression bombs). Also a plain-HTTP echo for absolute-form proxy requests.
 */
export interface LabEcho {
  method: string;
  url: string;
  rawHeaders: string[];
  headers: Record<string, string | string[] | undefined>;
  rawTrailers: string[];
  body: string;
}

export interface LabUpstream {
  /** HTTPS port (test certificate for *.standin.test and 127.0.0.1). */
  port: number;
  /** Plain-HTTP echo port. */
  httpPort: number;
  /** Everything the HTTPS lab received. */
  received: LabEcho[];
  /** Everything the plain-HTTP lab received. */
  httpReceived: LabEcho[];
  /** Compressed size of the last bomb served, per coding. */
  bombSizes: Record<string, number>;
  close(): Promise<void>;
}

const BOMB_MB = 64;
const bombs = new Map<string, Buffer>();

function bomb(coding: string): Buffer {
  let b = bombs.get(coding);
  if (!b) {
    const zeros = Buffer.alloc(BOMB_MB * 1024 * 1024);
    b =
      coding === 'br'
        ? brotliCompressSync(zeros, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } })
        : coding === 'deflate'
          ? deflateSync(zeros, { level: 9 })
          : gzipSync(zeros, { level: 9 });
    bombs.set(coding, b);
  }
  return b;
}

export const LAB_BOMB_BYTES = BOMB_MB * 1024 * 1024;

function credentialOf(e: LabEcho): string {
  const auth = e.headers.authorization;
  const key = e.headers['x-api-key'];
  return [typeof auth === 'string' ? auth : '', typeof key === 'string' ? key : '', e.url].join(' | ');
}

function collect(req: IncomingMessage, into: LabEcho[], then: (e: LabEcho) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const e: LabEcho = {
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders,
      headers: req.headers,
      rawTrailers: req.rawTrailers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    into.push(e);
    then(e);
  });
}

function route(e: LabEcho, res: ServerResponse, bombSizes: Record<string, number>): void {
  const [path = '', query = ''] = e.url.split('?');
  const params = new URLSearchParams(query);
  const cred = credentialOf(e);
  switch (path) {
    case '/bomb': {
      const coding = params.get('coding') ?? 'gzip';
      const body = bomb(coding);
      bombSizes[coding] = body.length;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': coding, 'content-length': String(body.length) });
      return void res.end(body);
    }
    case '/reason': {
      // The credential in the reason phrase (visible ASCII, so a naive relay keeps it).
      res.writeHead(200, `OK ${cred.replace(/[^\x20-\x7e]/g, '').slice(0, 120)}`, { 'content-type': 'text/plain', 'content-length': '2' });
      return void res.end('ok');
    }
    case '/trailer': {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-echo' });
      res.write('body without the credential\n');
      res.addTrailers({ 'x-echo': cred.replace(/[^\x20-\x7e]/g, '') });
      return void res.end();
    }
    case '/hints': {
      res.writeEarlyHints({ link: `</style.css?c=${encodeURIComponent(cred)}>; rel=preload; as=style`, 'x-echo': cred.replace(/[^\x20-\x7e]/g, '') });
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      return void res.end('ok');
    }
    case '/coding': {
      // A body labelled with a coding the gateway cannot decode, actually sent in clear text.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': params.get('c') ?? 'zstd' });
      return void res.end(`clear text ${cred}`);
    }
    case '/forged': {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'X-Standin-Request-Id': 'forged-id',
        'X-STANDIN-ERROR': 'GW_FORGED',
        'x-standin-anything': 'forged',
        'content-length': '2',
      });
      return void res.end('ok');
    }
    case '/double': {
      // The credential twice URL-encoded in a redirect (`?next=<encoded URL>`), a common shape.
      res.writeHead(302, { location: `https://other.standin.test/login?next=${encodeURIComponent(`https://api.standin.test${e.url}`)}`, 'content-length': '0' });
      return void res.end();
    }
    default: {
      const json = JSON.stringify(e);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) });
      res.end(json);
    }
  }
}

export async function startLabUpstream(): Promise<LabUpstream> {
  const received: LabEcho[] = [];
  const httpReceived: LabEcho[] = [];
  const bombSizes: Record<string, number> = {};
  const https: HttpsServer = createHttpsServer({
    cert: readFileSync(join(CERTS, 'upstream.pem')),
    key: readFileSync(join(CERTS, 'upstream-key.pem')),
  });
  https.on('request', (req: IncomingMessage, res: ServerResponse) => collect(req, received, (e) => route(e, res, bombSizes)));
  const http: HttpServer = createHttpServer();
  http.on('request', (req: IncomingMessage, res: ServerResponse) =>
    collect(req, httpReceived, (e) => {
      const json = JSON.stringify(e);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) });
      res.end(json);
    }),
  );
  const listen = (s: HttpServer | HttpsServer): Promise<number> =>
    new Promise((resolve) =>
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      }),
    );
  const port = await listen(https);
  const httpPort = await listen(http);
  const close = (s: HttpServer | HttpsServer): Promise<void> =>
    new Promise((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return { port, httpPort, received, httpReceived, bombSizes, close: async () => void (await Promise.all([close(https), close(http)])) };
}
