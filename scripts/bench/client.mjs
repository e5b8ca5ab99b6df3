// The load generator, run as its own process (one per measurement) so that it never shares an
// event loop with the gateway, the upstream or the orchestrator. Job in BENCH_JOB (JSON); writes
// JSON lines on stdout: {type:'mark'|'opened',...} while running, then {type:'result',...}.
import { fresh } from './load/fresh.mjs';
import { idle } from './load/idle.mjs';
import { keepalive } from './load/keepalive.mjs';
import { stream } from './load/stream.mjs';

const KINDS = { keepalive, fresh, stream, idle };
const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

try {
  const job = JSON.parse(process.env.BENCH_JOB ?? '');
  const fn = KINDS[job.kind];
  if (!fn) throw new Error(`unknown job kind ${job.kind}`);
  const result = await fn(job, emit);
  emit({ type: 'result', result });
  process.exit(0);
} catch (e) {
  emit({ type: 'error', message: String(e?.stack ?? e) });
  process.exit(1);
}
