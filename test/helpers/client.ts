import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { HttpsProxyAgent } from 'hpagent';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * An ordinary Node HTTPS client (https.request through hpagent's CONNECT agent) that trusts the
 * standin CA, as a sandboxed program configured by `sandbox env` would.
 */
export function viaProxy(
  proxyUrl: string,
  caPem: string,
  url: string,
  init: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {},
): Promise<Reply> {
  const agent = new HttpsProxyAgent({ proxy: proxyUrl, ca: caPem, keepAlive: false });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method ?? 'GET', headers: init.headers, agent, ca: caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Sends a raw CONNECT and returns the proxy's answer head and the still-open socket. */
export function rawConnect(proxyPort: number, requestHead: string): Promise<{ head: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(proxyPort, '127.0.0.1');
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        socket.off('data', onData);
        const rest = buf.slice(end + 4);
        if (rest.length > 0) socket.unshift(Buffer.from(rest, 'latin1'));
        resolve({ head: buf.slice(0, end), socket });
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.on('close', () => resolve({ head: buf, socket }));
    socket.write(requestHead);
  });
}

export function basicAuth(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** CONNECT with credentials, then a TLS client on the tunnel trusting `caPem`. */
export async function openTunnel(proxyPort: number, authority: string, proxyAuth: string, caPem: string, servername: string): Promise<TLSSocket> {
  const { head, socket } = await rawConnect(proxyPort, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${proxyAuth}\r\n\r\n`);
  if (!head.startsWith('HTTP/1.1 200')) throw new Error(`CONNECT refused: ${head.split('\r\n')[0]}`);
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, ca: caPem }, () => resolve(tls));
    tls.on('error', reject);
  });
}

/** Writes raw bytes on a tunnel and collects everything until the peer closes or `ms` pass. */
export function rawExchange(socket: Socket | TLSSocket, bytes: string, ms = 1_500): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
    socket.on('close', done);
    socket.on('error', done);
    socket.write(bytes);
  });
}
