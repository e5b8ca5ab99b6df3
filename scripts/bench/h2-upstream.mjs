// The HTTP/2 benchmark's upstreams, in their own process: one HTTPS server that selects h2 by
// ALPN (HTTP/1.1 for clients that offer only that) and one that speaks HTTP/1.1 only. Each
// answers every request with a small JSON body. Prints {"h2":PORT,"h1":PORT} when listening.
import { readFileSync } from 'node:fs';
import { createServer as createHttps } from 'node:https';
import { createSecureServer } from 'node:http2';
import { join } from 'node:path';

const certDir = process.argv[2];
const tlsOptions = { cert: readFileSync(join(certDir, 'upstream.pem')), key: readFileSync(join(certDir, 'upstream-key.pem')) };
const body = JSON.stringify({ id: 'bench', object: 'ok', choices: [{ text: 'hello' }] });
const answer = (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
};
const h2 = createSecureServer({ ...tlsOptions, allowHTTP1: true, settings: { maxConcurrentStreams: 1000 } }, answer);
const h1 = createHttps({ ...tlsOptions, keepAlive: true }, answer);
await Promise.all([h2, h1].map((s) => new Promise((r) => s.listen(0, '127.0.0.1', r))));
process.stdout.write(`${JSON.stringify({ h2: h2.address().port, h1: h1.address().port })}\n`);
