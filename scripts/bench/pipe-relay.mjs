// A bare Node TLS-in/TLS-out byte pipe (no HTTP, no checks, no scrubbing), run as a forked child of
// stream-ab.mjs: the floor of any TLS relay written in Node on this machine. Argv: CERT_DIR
// UPSTREAM_PORT. Reports { port } over IPC once listening; exits when the parent goes away.
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:tls';

const [certDir, upstreamPort] = process.argv.slice(2);
const ca = readFileSync(`${certDir}/test-ca.pem`);
const server = createServer({ key: readFileSync(`${certDir}/upstream-key.pem`), cert: readFileSync(`${certDir}/upstream.pem`) }, (client) => {
  const up = connect({ host: '127.0.0.1', port: Number(upstreamPort), servername: 'api.standin.test', ca });
  client.pipe(up);
  up.pipe(client);
  client.on('error', () => up.destroy());
  up.on('error', () => client.destroy());
  client.on('close', () => up.destroy());
  up.on('close', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
