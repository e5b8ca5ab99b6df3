// Runs client.mjs for one job in a child process; forwards its progress messages to `onMessage`
// (which may answer through `send`) and resolves with its result. Killed at `timeoutMs`.
import { fileURLToPath } from 'node:url';
import { start } from './procs.mjs';

const CLIENT = fileURLToPath(new URL('../client.mjs', import.meta.url));

export function runClient(job, { timeoutMs, onMessage } = {}) {
  return new Promise((resolve, reject) => {
    const child = start(process.execPath, [CLIENT], {
      env: { ...process.env, BENCH_JOB: JSON.stringify(job) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const send = (line) => child.stdin.writable && child.stdin.write(`${line}\n`);
    let buf = '';
    let result;
    let error;
    const stderr = [];
    child.stdout.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.type === 'result') result = msg.result;
        else if (msg.type === 'error') error = msg.message;
        else onMessage?.(msg, send);
      }
    });
    child.stderr.on('data', (d) => {
      stderr.push(d.toString());
      if (stderr.length > 50) stderr.shift();
    });
    const timer = setTimeout(() => {
      error = `client timed out after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs ?? 120_000);
    child.exitPromise.then(() => {
      clearTimeout(timer);
      if (result !== undefined) resolve(result);
      else reject(new Error(`client job ${job.kind} failed: ${error ?? 'no result'}\n${stderr.join('').slice(-2000)}`));
    });
  });
}
