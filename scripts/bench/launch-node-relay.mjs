// Starts node-relay.mjs (the plain-Node TLS relay column) as its own process; { pid, port, stop() }.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { register, stop } from './lib/procs.mjs';

export async function startNodeRelay({ certDir, upstreamPort, host }) {
  const child = fork(fileURLToPath(new URL('./node-relay.mjs', import.meta.url)), [certDir, String(upstreamPort), host], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  register(child);
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('node relay did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`node relay exited with code ${code}`)));
    child.on('message', (m) => {
      if (m?.type !== 'listening') return;
      clearTimeout(timer);
      resolve(m.port);
    });
  });
  return { pid: child.pid, port, version: process.versions.node, stop: () => stop(child) };
}
