// The floor of a two-leg TLS relay written in Node: an https server whose every request is sent
// on with https.request over a keep-alive agent and whose response is piped back. No CONNECT, no
// checks, no swap, no log — what any Node gateway pays before doing its own work, measured on the
// same machine in the same run as the nginx relay, so that "standin / node relay" says how much
// of the gap to nginx is standin's and how much is Node's. argv: certDir upstreamPort host.
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import { join } from 'node:path';

const [certDir, upstreamPort, host] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: readFileSync(join(certDir, 'test-ca.pem')), servername: host });
const server = createServer({ cert: readFileSync(join(certDir, 'upstream.pem')), key: readFileSync(join(certDir, 'upstream-key.pem')) }, (req, res) => {
  const up = request({ host: '127.0.0.1', port: Number(upstreamPort), servername: host, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    upRes.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => process.send?.({ type: 'listening', port: server.address().port }));
// Exits normally on SIGTERM, so that a --cpu-prof (BENCH_NODE_ARGS) is written.
process.on('SIGTERM', () => process.exit(0));
