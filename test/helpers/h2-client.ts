import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { basicAuth, rawConnect } from './client.js';

/** Node's http2 client has no proxy support: CONNECT by hand, then h2 over TLS in the tunnel. */
export async function h2Session(proxyPort: number, target: string, sandbox: string, proxyKey: string, caPem: string): Promise<ClientHttp2Session> {
  const { head, socket } = await rawConnect(proxyPort, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${basicAuth(sandbox, proxyKey)}\r\n\r\n`);
  if (!head.startsWith('HTTP/1.1 200')) throw new Error(head.split('\r\n')[0]);
  const s = h2connect(`https://${target}`, {
    createConnection: () => tlsConnect({ socket, servername: target.split(':')[0], ca: caPem, ALPNProtocols: ['h2'] }),
  });
  s.on('error', () => undefined);
  return s;
}

export interface H2Reply {
  headers: IncomingHttpHeaders;
  body: string;
  trailers: IncomingHttpHeaders;
  rstCode: number;
}

/** One request; resolves when the stream closes, whatever way (rstCode says how). */
export function h2Request(s: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string, trailers?: OutgoingHttpHeaders): Promise<H2Reply> {
  return new Promise((resolve) => {
    const stream = s.request(headers, { endStream: body === undefined, waitForTrailers: trailers !== undefined });
    let response: IncomingHttpHeaders = {};
    let got: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (hs) => (response = hs));
    stream.on('trailers', (t) => (got = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ headers: response, body: Buffer.concat(chunks).toString(), trailers: got, rstCode: stream.rstCode ?? 0 }));
    if (trailers !== undefined) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    if (body !== undefined) stream.end(body);
  });
}
