// The bench's HTTPS upstream (run as a forked child): the same server behind every column.
//   GET /small        tiny JSON: {"ok":true,"auth":"real"|"standin"|"other"|"none"} (never echoes a value)
//   GET /bytes?n=N    N bytes of fixed pseudo-random data, streamed with backpressure
// It classifies the Authorization header it received, so the bench can check that the swap
// happened (the gateway sent the real value) without the value ever leaving this process.
// Reports { type: 'listening', port } over IPC, answers { type: 'stats' } with per-kind counts.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const certDir = process.argv[2];
const real = process.env.BENCH_REAL_VALUE ?? '';
const realHeader = `Bearer ${real}`;
const CHUNK = pseudoRandom(64 * 1024);
const MAX_BYTES = 8 * 1024 ** 3;

const counts = { real: 0, standin: 0, other: 0, none: 0, bytesServed: 0, connections: 0 };

const server = createServer(
  {
    key: readFileSync(`${certDir}/upstream-key.pem`),
    cert: readFileSync(`${certDir}/upstream.pem`),
    keepAliveTimeout: 120_000,
    requestTimeout: 0,
  },
  (req, res) => {
    const auth = req.headers.authorization;
    const kind = auth === undefined ? 'none' : auth === realHeader ? 'real' : auth.includes('standin_') ? 'standin' : 'other';
    counts[kind] += 1;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/small') {
      const body = `{"ok":true,"auth":"${kind}"}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } else if (path === '/bytes') {
      const n = Number(new URLSearchParams(url.slice(q + 1)).get('n'));
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_BYTES) {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n, 'x-auth': kind });
      streamBytes(res, n);
    } else {
      res.writeHead(404, { 'content-length': 0 }).end();
    }
  },
);
server.headersTimeout = 30_000;
server.on('connection', () => (counts.connections += 1));
server.on('clientError', (_err, socket) => socket.destroy());

function streamBytes(res, n) {
  let remaining = n;
  let closed = false;
  res.once('close', () => (closed = true));
  const pump = () => {
    while (remaining > 0 && !closed) {
      const c = remaining >= CHUNK.length ? CHUNK : CHUNK.subarray(0, remaining);
      remaining -= c.length;
      counts.bytesServed += c.length;
      if (!res.write(c)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!closed) res.end();
  };
  pump();
}

// xorshift32: the same bytes every run, incompressible, and (being binary) never containing a token.
function pseudoRandom(size) {
  const buf = Buffer.allocUnsafe(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  return buf;
}

process.on('message', (m) => {
  if (m?.type === 'stats') process.send({ type: 'stats', counts: { ...counts } });
});
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }));
