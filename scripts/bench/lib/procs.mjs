// Child-process bookkeeping: every process the bench starts is registered here and killed at the
// end, on error, and on SIGINT/SIGTERM. Nothing else in the bench calls kill().
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';

const children = new Set();

/** spawn() + registration; the child is removed from the registry when it exits. */
export function start(cmd, args, options = {}) {
  return register(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options }));
}

/** Registers a child started elsewhere (e.g. fork) so that cleanup covers it too. */
export function register(child) {
  children.add(child);
  child.exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      children.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
  });
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stop(child, graceMs = 5_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitPromise;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const result = await child.exitPromise;
  clearTimeout(timer);
  return result;
}

/** Kills every registered child that is still running (by its own pid, nothing broader). */
export function killAll(signal = 'SIGKILL') {
  for (const child of children) {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

export async function stopAll(graceMs = 3_000) {
  await Promise.all([...children].map((c) => stop(c, graceMs)));
}

/** Installs handlers so that Ctrl-C, a signal or a crash never leaves a child behind. */
export function installCleanup() {
  const bail = (signal) => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    killAll('SIGKILL');
    process.exit(130);
  };
  process.once('SIGINT', () => bail('SIGINT'));
  process.once('SIGTERM', () => bail('SIGTERM'));
  process.once('exit', () => killAll('SIGKILL'));
}

/**
 * Resolves with the first stdout/stderr line matching `re` (the match), rejects on exit or timeout.
 * Keeps the last lines of output for error messages.
 */
export function waitForLine(child, re, timeoutMs, { stream = 'stdout' } = {}) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const tail = [];
    const src = child[stream];
    const onData = (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        tail.push(line);
        if (tail.length > 20) tail.shift();
        const m = re.exec(line);
        if (m) {
          done();
          resolve(m);
          return;
        }
      }
    };
    const onExit = () => {
      done();
      reject(new Error(`process exited before printing ${re}; last output:\n${tail.join('\n')}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}; last output:\n${tail.join('\n')}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      src.off('data', onData);
      child.off('exit', onExit);
    };
    src.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Keeps the last `max` lines of a stream (for diagnostics) without letting the pipe fill up. */
export function keepTail(stream, max = 200) {
  const lines = [];
  let buf = '';
  stream.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (lines.length > max) lines.shift();
    }
    if (buf.length > 65_536) buf = buf.slice(-65_536);
  });
  return lines;
}

/** Runs a command to completion (bounded), returning stdout/stderr. */
export function run(cmd, args, { input, env, timeoutMs = 60_000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = start(cmd, args, { env, cwd });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    // A child that exits without reading its input (a refusal) makes this write fail with EPIPE:
    // its exit status says what happened, the write error must not crash the bench.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
    child.exitPromise.then(({ code, signal, error }) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (error || code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} failed (${error?.message ?? `code ${code}, signal ${signal}`}): ${stderr.trim().slice(0, 2000)}`));
      } else resolve({ stdout, stderr });
    });
  });
}

/** A free loopback TCP port (tiny race between close and reuse; acceptable on loopback). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
