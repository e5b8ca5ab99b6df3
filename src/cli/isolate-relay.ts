import { connect, createServer } from 'node:net';

/**
 * Runs inside the isolated network namespace of `standin run --isolate`: listens on the
 * namespace's loopback and relays each connection to a unix socket held by `standin run` outside,
 * which relays it on to the gateway. Prints its port on stdout once listening; exits when its
 * stdin closes (its parent is gone) or on SIGTERM.
 */
const socketPath = process.argv[2];
if (socketPath === undefined) process.exit(2);

const server = createServer((client) => {
  const upstream = connect(socketPath);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  if (a === null || typeof a === 'string') process.exit(1);
  process.stdout.write(`${a.port}\n`);
});
process.stdin.resume();
process.stdin.on('close', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
