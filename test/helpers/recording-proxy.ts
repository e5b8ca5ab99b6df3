import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ProxySeen {
  method: string;
  /** CONNECT authority, or the absolute URL of a forwarded request. */
  target: string;
  authorization: string | undefined;
  host: string | undefined;
}

export interface RecordingProxy {
  port: number;
  seen: ProxySeen[];
  close(): Promise<void>;
}

/**
 * A minimal HTTP proxy on loopback that records what it is asked for: CONNECT tunnels go to
 * 127.0.0.1:`tlsPort` whatever the target (so *.standin.test names work without DNS), absolute-form
 * requests to 127.0.0.1:`plainPort`. `refused.standin.test` gets a 403 problem, as the gateway
 * answers an egress refusal. It stands in for the gateway where only routing is under test.
 */
export async function startRecordingProxy(tlsPort: number, plainPort: number): Promise<RecordingProxy> {
  const seen: ProxySeen[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', target: req.url ?? '', authorization: req.headers['proxy-authorization'], host: req.headers.host });
    const url = new URL(req.url ?? '/', 'http://invalid');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = httpRequest({ host: '127.0.0.1', port: plainPort, method: req.method, path: `${url.pathname}${url.search}`, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const tunnels = new Set<Duplex>();
  server.on('connect', (req, socket, head) => {
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    const target = req.url ?? '';
    seen.push({ method: 'CONNECT', target, authorization: req.headers['proxy-authorization'], host: req.headers.host });
    socket.on('error', () => socket.destroy());
    if (target.startsWith('refused.standin.test:')) {
      const body = JSON.stringify({ type: 'about:blank', title: 'Forbidden', status: 403, code: 'GW_EGRESS_DENIED' });
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    const up = connect(tlsPort, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) up.write(head);
      socket.pipe(up);
      up.pipe(socket);
    });
    up.on('error', () => socket.destroy());
    socket.on('close', () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        for (const s of tunnels) s.destroy();
        server.close(() => resolve());
      }),
  };
}
