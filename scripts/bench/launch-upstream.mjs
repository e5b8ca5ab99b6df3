// Starts upstream.mjs as its own process (so it never shares an event loop with the client or
// the gateway) and returns { port, pid, stats(), stop() }.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { register, stop } from './lib/procs.mjs';

export async function startUpstream({ certDir, realValue }) {
  const child = fork(fileURLToPath(new URL('./upstream.mjs', import.meta.url)), [certDir], {
    env: { ...process.env, BENCH_REAL_VALUE: realValue },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  register(child);
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('upstream did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`upstream exited with code ${code}`)));
    child.on('message', (m) => {
      if (m?.type === 'listening') {
        clearTimeout(timer);
        resolve(m.port);
      }
    });
  });
  const stats = () =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2_000);
      const on = (m) => {
        if (m?.type !== 'stats') return;
        child.off('message', on);
        clearTimeout(timer);
        resolve(m.counts);
      };
      child.on('message', on);
      child.send({ type: 'stats' });
    });
  return { port, pid: child.pid, stats, stop: () => stop(child) };
}
