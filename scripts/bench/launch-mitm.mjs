// Starts mitmdump (when installed) with mitm_swap.py: same upstream, same test CA for upstream
// verification, its own CA in a temp confdir, loopback only. Returns undefined when mitmdump is
// absent so that the bench skips the column.
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, keepTail, sleep, start, stop, waitForPort } from './lib/procs.mjs';

export function findMitmdump() {
  if (process.env.BENCH_MITMDUMP) return existsSync(process.env.BENCH_MITMDUMP) ? process.env.BENCH_MITMDUMP : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'mitmdump');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export async function startMitm({ tmp, certDir, token, realValue }) {
  const bin = findMitmdump();
  if (!bin) return undefined;
  const confdir = join(tmp, 'mitm-conf');
  const port = await freePort();
  const addon = fileURLToPath(new URL('./mitm_swap.py', import.meta.url));
  const args = [
    '--listen-host', '127.0.0.1',
    '--listen-port', String(port),
    '--set', `confdir=${confdir}`,
    '--set', `ssl_verify_upstream_trusted_ca=${join(certDir, 'test-ca.pem')}`,
    '--set', 'connection_strategy=lazy',
    '--set', 'stream_large_bodies=1m', // stream, as standin does; the default buffers whole bodies
    '--set', 'flow_detail=0',
    '--set', 'termlog_verbosity=warn',
    '-s', addon,
  ];
  const child = start(bin, args, {
    env: { ...process.env, BENCH_STANDIN_TOKEN: token, BENCH_REAL_VALUE: realValue },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdoutTail = keepTail(child.stdout);
  const stderrTail = keepTail(child.stderr);
  const failed = child.exitPromise.then(() => {
    throw new Error(`mitmdump exited during start-up:\n${[...stdoutTail, ...stderrTail].join('\n')}`);
  });
  await Promise.race([waitForPort(port, 30_000), failed]);
  const caFile = join(confdir, 'mitmproxy-ca-cert.pem');
  for (let i = 0; i < 100 && !existsSync(caFile); i++) await sleep(100);
  const version = await mitmVersion(bin);
  return {
    name: 'mitmproxy',
    version,
    pid: child.pid,
    address: `127.0.0.1:${port}`,
    caPem: readFileSync(caFile, 'utf8'),
    proxyUrl: `http://127.0.0.1:${port}`,
    stderrTail: [...stdoutTail, ...stderrTail],
    stop: () => stop(child, 5_000),
  };
}

async function mitmVersion(bin) {
  const { run } = await import('./lib/procs.mjs');
  try {
    const { stdout } = await run(bin, ['--version'], { timeoutMs: 15_000 });
    return /Mitmproxy:\s*(\S+)/.exec(stdout)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
