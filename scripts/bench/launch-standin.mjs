// Starts standin through its CLI contract (DESIGN.md), exactly as a user would, from the BUILT
// files (dist/cli/main.js): init, one bearer secret, N sandboxes bound to it, then `serve` on a
// free loopback port with the test upstream CA, --resolve for every bench host, and
// --allow-dest 127.0.0.1. Returns what the client needs (proxy URLs with each sandbox's proxy
// credential, stand-in tokens, the gateway CA) and helpers to stop it and read its network log.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keepTail, run, start, stop, waitForLine } from './lib/procs.mjs';

// The node flags `npm start` runs the gateway with, read from package.json so the two never drift.
function gatewayNodeFlags(repoRoot) {
  const script = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).scripts?.start ?? '';
  const m = /^node((?:\s+--\S+)*)\s/.exec(script);
  return m === null ? [] : m[1].trim().split(/\s+/).filter(Boolean);
}

export const SECRET_NAME = 'bench-key';
export const ENV_NAME = 'OPENAI_API_KEY';

export async function startStandin({ repoRoot, home, certDir, upstreamPort, realValue, hosts, sandboxes = 1, logLevel = 'info', variant = 'STANDIN' }) {
  // BENCH_STANDIN_MAIN: another build of the CLI (e.g. a worktree's dist/cli/main.js) to compare.
  // variant 'STANDIN_B' reads BENCH_STANDIN_B_MAIN, _NODE_ARGS and _WORKERS instead (the standin-b column).
  const envOf = (k) => process.env[`BENCH_${variant}_${k}`];
  const main = envOf('MAIN') ?? join(repoRoot, 'dist/cli/main.js');
  if (!existsSync(main)) throw new Error(`${main} not found: build first (npx tsc -p tsconfig.json)`);
  const env = { ...process.env, STANDIN_HOME: home };
  const cli = (args, input) => run(process.execPath, [main, ...args], { env, input, timeoutMs: 30_000 });

  await cli(['init']);
  await cli(['secret', 'create', SECRET_NAME, '--hosts', `api.standin.test:${upstreamPort},*.standin.test:${upstreamPort}`, '--scheme', 'bearer', '--value-stdin'], realValue);
  const boxes = [];
  for (let i = 0; i < sandboxes; i++) {
    const name = `bench${i}`;
    const { stdout } = await cli(['sandbox', 'create', name, '--bind', `${ENV_NAME}=${SECRET_NAME}`, '--json']);
    const created = JSON.parse(stdout);
    const proxy = new URL(created.env.HTTPS_PROXY);
    boxes.push({ name, token: created.env[ENV_NAME], user: decodeURIComponent(proxy.username), pass: decodeURIComponent(proxy.password) });
  }
  const caPem = (await cli(['ca', 'export'])).stdout;

  // The node flags `npm start` and the Dockerfile run the gateway with (package.json), then
  // BENCH_STANDIN_NODE_ARGS: extra ones, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = [...gatewayNodeFlags(repoRoot), ...(envOf('NODE_ARGS') ?? '').split(' ').filter(Boolean)];
  const args = [...nodeArgs, main, 'serve', '--listen', '127.0.0.1:0', '--upstream-ca', join(certDir, 'test-ca.pem'), '--allow-dest', '127.0.0.1', '--log-level', logLevel];
  for (const h of hosts) args.push('--resolve', `${h}=127.0.0.1`);
  // BENCH_STANDIN_WORKERS: `serve --workers N` (default: the gateway's own, one per core; builds
  // from before the flag existed are run without it).
  if (envOf('WORKERS')) args.push('--workers', envOf('WORKERS'));
  const child = start(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderrTail = keepTail(child.stderr, 400);
  let stderrLines = 0;
  child.stderr.on('data', (d) => (stderrLines += d.toString().split('\n').length - 1));
  const [, address] = await waitForLine(child, /standin listening on http:\/\/(\S+)/, 30_000);
  keepTail(child.stdout, 50);

  for (const b of boxes) b.proxyUrl = `http://${encodeURIComponent(b.user)}:${encodeURIComponent(b.pass)}@${address}`;

  return {
    name: variant === 'STANDIN' ? 'standin' : 'standin-b',
    pid: child.pid,
    address,
    caPem,
    sandboxes: boxes,
    dbPath: join(home, 'standin.db'),
    stderrTail,
    stderrLines: () => stderrLines,
    /** SIGTERM (flushes the network log), then the exit status and how long shutdown took. */
    async stop() {
      const t0 = Date.now();
      const r = await stop(child, 15_000);
      return { ...r, ms: Date.now() - t0 };
    },
    /** Every network-log row, via `standin log --json` (run after stop()). */
    async logRows() {
      const { stdout } = await run(process.execPath, [main, 'log', '--json', '--limit', '999999'], { env, timeoutMs: 120_000 });
      return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
    },
  };
}
