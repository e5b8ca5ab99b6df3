import type { Command } from 'commander';
import { RuntimeError, UsageError } from '../errors.js';
import type { ChainReport, RecordedHead } from '../netlog/verify-walk.js';
import type { CliContext } from './context.js';
import { withParent } from './log-filters.js';
import { out, printJson } from './output.js';

/**
 * `standin log verify`: checks the hash chain of every gateway that wrote the log (every tenant:
 * a gateway's chain spans them). Exit 0 when all verify; 1 with the first changed, removed or
 * moved row otherwise.
 */
export function registerLogVerify(log: Command, ctx: CliContext): void {
  log
    .command('verify')
    .description("check every gateway's hash chain: report the first row changed, removed or reordered")
    .option('--json', 'one JSON document')
    .option('--head <gateway:seq:hash>', 'also check a head printed by an earlier verify (catches rows cut off the end, or a rewritten chain)')
    .action(async (own: VerifyOptions, cmd: Command) => {
      const o = withParent<VerifyOptions>(own, cmd);
      const recorded = o.head === undefined ? undefined : parseHead(o.head);
      const netlog = await ctx.netlog();
      const r = await netlog.verify();
      const headProblem = recorded === undefined ? undefined : await netlog.checkHead(recorded, r);
      if (o.json === true) printJson(r);
      else {
        if (r.chains.length === 0) out('no chained rows yet');
        for (const c of r.chains) out(describeChain(c));
        if (r.unsealed > 0) out(`${r.unsealed} rows outside the chains (not yet completed, or written before the chain existed)`);
      }
      if (!r.ok) {
        throw new RuntimeError(`log verify: ${r.first?.message ?? 'the chain does not verify'}${r.problems > 1 ? ` (and ${r.problems - 1} more problems)` : ''}`);
      }
      if (headProblem !== undefined) throw new RuntimeError(`log verify: ${headProblem}`);
      if (o.json !== true) {
        const what = r.chains.length > 1 ? `all ${r.chains.length} chains verify` : 'the chain verifies';
        out(recorded === undefined ? `ok: ${what}` : `ok: ${what} and still holds the head at position ${recorded.seq}`);
      }
    });
}

function describeChain(c: ChainReport): string {
  const from = c.anchor === 0 ? 'from the first row' : `from position ${c.anchor} (where retention last pruned)`;
  const name = c.gateway === '' ? 'rows written before gateway ids' : `gateway ${c.gateway}`;
  const head = c.gateway === '' ? `${c.head.seq}:${c.head.hash}` : `${c.gateway}:${c.head.seq}:${c.head.hash}`;
  return `${name}: ${c.verified} rows verified ${from}; head: ${head} (keep it to check later with --head)`;
}

interface VerifyOptions {
  json?: boolean;
  head?: string;
}

function parseHead(text: string): RecordedHead {
  const m = /^(?:([A-Za-z0-9][A-Za-z0-9._-]{0,63}):)?(\d{1,15}):([0-9a-f]{64})$/i.exec(text.trim());
  if (m === null) throw new UsageError('invalid --head: use GATEWAY:POSITION:HASH as log verify printed it (e.g. gw1:41:9f86d0...)');
  const head: RecordedHead = { seq: Number(m[2]), hash: (m[3] ?? '').toLowerCase() };
  if (m[1] !== undefined) head.gateway = m[1];
  return head;
}
