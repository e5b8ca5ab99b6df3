// The load generator, run as its own process (one per measurement) so that it never shares an
// event loop with the gateway, the upstream or the orchestrator. Job in BENCH_JOB (JSON); writes
// JSON lines on stdout: {type:'mark'|'opened',...} while running, then {type:'result',...}.
import { fresh } from './load/fresh.mjs';
import { idle } from './load/idle.mjs';
import { keepalive } from './load/keepalive.mjs';
import { stream } from './load/stream.mjs';

const KINDS = { keepalive, fresh, stream, idle };
const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
// stdout to a pipe is asynchronous: exit only once the last line is flushed, or it is cut short.
const finish = (o, code) => process.stdout.write(`${JSON.stringify(o)}\n`, () => process.exit(code));

try {
  const job = JSON.parse(process.env.BENCH_JOB ?? '');
  const fn = KINDS[job.kind];
  if (!fn) throw new Error(`unknown job kind ${job.kind}`);
  const result = await fn(job, emit);
  finish({ type: 'result', result }, 0);
} catch (e) {
  finish({ type: 'error', message: String(e?.stack ?? e) }, 1);
}
