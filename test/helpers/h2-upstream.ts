import { readFileSync } from 'node:fs';
import { constants, createSecureServer, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CERTS } from './upstream.js';

export interface H2Echo {
  httpVersion: string;
  /** Which upstream connection carried it (counted from 1 in accept order). */
  connection: number;
  headers: IncomingHttpHeaders;
  body: string;
  trailers: IncomingHttpHeaders;
}

export interface H2Upstream {
  port: number;
  received: H2Echo[];
  /** RST_STREAM codes of streams the gateway closed before they ended (the relayed cancels). */
  resets: number[];
  /** Bytes /flood wrote, and whether its writes are blocked on the window (bounded buffering). */
  flood: { written: number; blocked: boolean };
  connections(): number;
  close(): Promise<void>;
}

/**
 * A local HTTPS upstream that speaks only h2 (selected by ALPN),
 * signed by the test CA for *.standin.test. Routes: /echo (JSON of what arrived, trailers
 * included), /reflect (the credential in a header, the body and a trailer), /trailers (response
 * trailers), /gzip, /flood (an endless body, to observe flow control), /reset (RST_STREAM
 * REFUSED_STREAM after the head, the request still open), /hang (never answers).
 */
export async function startH2Upstream(): Promise<H2Upstream> {
  const received: H2Echo[] = [];
  const resets: number[] = [];
  const flood = { written: 0, blocked: false };
  const ids = new WeakMap<Http2Session, number>();
  let count = 0;
  const server = createSecureServer({
    cert: readFileSync(join(CERTS, 'upstream.pem')),
    key: readFileSync(join(CERTS, 'upstream-key.pem')),
  });
  server.on('session', (s) => ids.set(s, ++count));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const chunks: Buffer[] = [];
    let trailers: IncomingHttpHeaders = {};
    stream.on('trailers', (t: IncomingHttpHeaders) => (trailers = t));
    stream.on('close', () => {
      if (stream.rstCode !== constants.NGHTTP2_NO_ERROR) resets.push(stream.rstCode);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    const path = String(headers[':path'] ?? '').split('?')[0];
    if (path === '/flood') return floodStream(stream, flood);
    if (path === '/hang') return;
    if (path === '/reset') {
      // Answered at once, reset while the request is still open (a reset after both sides ended means nothing).
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.write('partial');
      setTimeout(() => stream.close(constants.NGHTTP2_REFUSED_STREAM), 50);
      return;
    }
    stream.on('end', () => {
      const echo: H2Echo = { httpVersion: '2.0', connection: ids.get(stream.session as Http2Session) ?? 0, headers, body: Buffer.concat(chunks).toString(), trailers };
      received.push(echo);
      answer(stream, path ?? '', echo);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  const sessions = new Set<Http2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  return {
    port: addr.port,
    received,
    resets,
    flood,
    connections: () => count,
    close: () =>
      new Promise((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function answer(stream: ServerHttp2Stream, path: string, echo: H2Echo): void {
  const auth = String(echo.headers.authorization ?? '');
  if (path === '/reflect') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-echo': auth }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'x-trailer-echo': auth, 'grpc-message': `bad ${auth}` }));
    stream.end(`you sent ${auth} ok`);
    return;
  }
  if (path === '/trailers') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc123', 'x-got-trailer': String(echo.trailers['x-request-trailer'] ?? '') }));
    stream.end('body with trailers');
    return;
  }
  if (path === '/gzip') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-encoding': 'gzip' });
    stream.end(gzipSync(`gz ${auth} gz`));
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/json' });
  stream.end(JSON.stringify({ httpVersion: echo.httpVersion, connection: echo.connection, headers: echo.headers, body: echo.body, trailers: echo.trailers }));
}

/** Writes 16 KiB blocks as fast as the window allows: `blocked` says when it is held back. */
function floodStream(stream: ServerHttp2Stream, flood: { written: number; blocked: boolean }): void {
  stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
  const block = Buffer.alloc(16 * 1024, 0x62);
  const pump = (): void => {
    flood.blocked = false;
    while (!stream.destroyed && flood.written < 1024 * 1024 * 1024) {
      flood.written += block.length;
      if (!stream.write(block)) {
        flood.blocked = true;
        return void stream.once('drain', pump);
      }
    }
    if (!stream.destroyed) stream.end();
  };
  pump();
}
