// The floor of an intercepting proxy written in Node: CONNECT, TLS terminated in the tunnel with a
// fixed leaf (certs/upstream.pem, valid for *.standin.test), each request parsed by node:http,
// the stand-in in Authorization replaced by the real value, and sent on with https.request over a
// keep-alive agent; the response piped back. No per-sandbox pools, no checks, no scrubbing, no
// log: what any Node gateway of standin's shape pays before doing its own work.
// argv: certDir upstreamPort host; env BENCH_TOKEN, BENCH_REAL_VALUE.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { createSecureContext, TLSSocket } from 'node:tls';

const [certDir, upstreamPort, host] = process.argv.slice(2);
const from = `Bearer ${process.env.BENCH_TOKEN}`;
const to = `Bearer ${process.env.BENCH_REAL_VALUE}`;
const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: readFileSync(join(certDir, 'test-ca.pem')), servername: host });
const leaf = createSecureContext({ cert: readFileSync(join(certDir, 'upstream.pem')), key: readFileSync(join(certDir, 'upstream-key.pem')) });
const inner = createServer((req, res) => {
  const headers = { ...req.headers };
  if (headers.authorization === from) headers.authorization = to;
  const up = request({ host: '127.0.0.1', port: Number(upstreamPort), servername: host, method: req.method, path: req.url, headers, agent }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    upRes.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
inner.keepAliveTimeout = 120_000;
const outer = createServer();
outer.on('connect', (_req, socket, head) => {
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length > 0) socket.unshift(head);
  const tls = new TLSSocket(socket, { isServer: true, secureContext: leaf, ALPNProtocols: ['http/1.1'] });
  tls.on('error', () => tls.destroy());
  inner.emit('connection', tls);
});
outer.listen(0, '127.0.0.1', () => process.send?.({ type: 'listening', port: outer.address().port }));
// Exits normally on SIGTERM, so that a --cpu-prof (BENCH_NODE_ARGS) is written.
process.on('SIGTERM', () => process.exit(0));
