// Bench parameters: the full run (default, a few minutes) and --quick (under a minute or two).
// Every load is bounded by a count AND a time; see README.md for what each number means.

export const COLUMNS = ['direct', 'standin', 'mitmproxy', 'nginx', 'node', 'node-mitm'];
export const STEPS = ['newhost', 'newconn', 'small', 'idle', 'stream'];

export function parseArgs(argv, env = process.env) {
  const args = { quick: env.BENCH_QUICK === '1', only: undefined, steps: undefined, out: undefined, concurrency: undefined, help: false };
  for (const a of argv) {
    if (a === '--quick') args.quick = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else if (a.startsWith('--only=')) args.only = a.slice(7).split(',').map((s) => s.trim()).filter(Boolean);
    else if (a.startsWith('--steps=')) args.steps = a.slice(8).split(',').map((s) => s.trim()).filter(Boolean);
    else if (a.startsWith('--out=')) args.out = a.slice(6);
    else if (a.startsWith('--concurrency=')) args.concurrency = a.slice(14).split(',').map(Number);
    else throw new Error(`unknown argument ${a} (use --quick, --only=COLUMNS, --steps=STEPS, --concurrency=N,N, --out=FILE)`);
  }
  for (const c of args.only ?? []) if (!COLUMNS.includes(c)) throw new Error(`--only: unknown column ${c}`);
  for (const c of args.concurrency ?? []) if (!Number.isInteger(c) || c < 1 || c > 512) throw new Error(`--concurrency: bad level ${c}`);
  for (const c of args.steps ?? []) if (!STEPS.includes(c)) throw new Error(`--steps: unknown step ${c} (${STEPS.join(', ')})`);
  return args;
}

export const USAGE = `usage: npm run bench [-- --quick] [-- --only=direct,standin,mitmproxy,nginx,node,node-mitm] [-- --out=FILE]
  --quick   100 MB stream, 500 idle tunnels, shorter windows (also BENCH_QUICK=1)
  --only    run a subset of the columns (direct is needed for the ratios to direct)
  --steps   run a subset of the measurements: newhost,newconn,small,idle,stream
  --concurrency  small-request levels (default 1,16), e.g. --concurrency=32 while profiling
  --out     JSON file (default bench-results/latest.json)
env: BENCH_MITMDUMP=/path/to/mitmdump, BENCH_NGINX=/path/to/nginx, BENCH_STANDIN_LOG_LEVEL (default info),
     BENCH_STANDIN_MAIN (another build's dist/cli/main.js), BENCH_STANDIN_NODE_ARGS (extra node flags for the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")`;

export function makeConfig({ quick, concurrency }) {
  const idleTunnels = quick ? 500 : 2_000;
  const newHostCount = quick ? 20 : 50;
  return {
    quick,
    // Overall guard: measurements not started by then are skipped (each one is bounded anyway).
    budgetMs: quick ? 150_000 : 330_000,
    concurrency: concurrency ?? [1, 16],
    small: quick
      ? { maxRequests: 5_000, durationMs: 2_000, warmupRequests: 300, warmupMs: 500 }
      : // The warm-up lets V8 finish optimising the hot path first: its optimising compiler runs on a
        // background thread, and on a loaded 2-core machine standin's (much larger) hot path was
        // still being compiled a second into the window (30% of a core in TurboFan, p99 x4).
        { maxRequests: 50_000, durationMs: 5_000, warmupRequests: 10_000, warmupMs: 3_000 },
    newconn: quick ? { count: 50, durationMs: 5_000, warmup: 10 } : { count: 200, durationMs: 10_000, warmup: 20 },
    newhost: { count: newHostCount, durationMs: quick ? 10_000 : 20_000, warmup: 5 },
    newHosts: Array.from({ length: newHostCount }, (_, i) => `h${i}.standin.test`),
    stream: { bytes: quick ? 100e6 : 1e9, noSwapBytes: quick ? 50e6 : 200e6, durationMs: quick ? 30_000 : 60_000 },
    // standin caps connections per sandbox (512 at the time of writing): spread tunnels over sandboxes.
    idle: { tunnels: idleTunnels, parallel: 32, openMs: quick ? 30_000 : 60_000, perSandbox: 400 },
    targets: { smallVsMitm: 4, smallVsNginx: 0.5, p50VsDirect: 1.3, streamVsDirect: 0.6, streamVsNginx: 0.8, streamVsMitm: 2, streamRssMb: 150, newHostPlusMs: 15, newConnPlusMs: 5 },
  };
}
