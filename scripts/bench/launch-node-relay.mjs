// Starts node-relay.mjs (the plain-Node TLS relay column) or node-mitm.mjs (the plain-Node
// intercepting proxy column) as its own process; { pid, port, stop() }.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { register, stop } from './lib/procs.mjs';

export async function startNodeRelay({ certDir, upstreamPort, host, mitm }) {
  const script = mitm ? './node-mitm.mjs' : './node-relay.mjs';
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [certDir, String(upstreamPort), host], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // BENCH_NODE_ARGS: extra node flags for these columns (a --cpu-prof beside standin's, say).
    execArgv: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
    env: { ...process.env, ...(mitm ? { BENCH_TOKEN: mitm.token, BENCH_REAL_VALUE: mitm.realValue } : {}) },
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
