import type { Command } from 'commander';
import { RuntimeError, UsageError } from '../errors.js';
import { checkRecordedHead, verifyChain } from '../netlog/verify.js';
import type { CliContext } from './context.js';
import { withParent } from './log-filters.js';
import { out, printJson } from './output.js';

/**
 * `standin log verify`: checks the hash chain of the whole log (every tenant: the chain is one).
 * Exit 0 when it verifies; 1 with the first changed, removed or moved row otherwise.
 */
export function registerLogVerify(log: Command, ctx: CliContext): void {
  log
    .command('verify')
    .description('check the hash chain: report the first row changed, removed or reordered')
    .option('--json', 'one JSON document')
    .option('--head <seq:hash>', 'also check a head printed by an earlier verify (catches rows cut off the end, or a rewritten chain)')
    .action((own: VerifyOptions, cmd: Command) => {
      const o = withParent<VerifyOptions>(own, cmd);
      const recorded = o.head === undefined ? undefined : parseHead(o.head);
      const r = verifyChain(ctx.db());
      const headProblem = recorded === undefined ? undefined : checkRecordedHead(ctx.db(), recorded, r);
      if (o.json === true) printJson(r);
      else {
        const from = r.anchor === 0 ? 'from the first row' : `from position ${r.anchor} (where retention last pruned)`;
        out(`${r.verified} rows verified ${from}; head: ${r.head.seq}:${r.head.hash} (keep it to check later with --head)`);
        if (r.unsealed > 0) out(`${r.unsealed} rows outside the chain (not yet completed, or written before the chain existed)`);
      }
      if (!r.ok) {
        throw new RuntimeError(`log verify: ${r.first?.message ?? 'the chain does not verify'}${r.problems > 1 ? ` (and ${r.problems - 1} more problems)` : ''}`);
      }
      if (headProblem !== undefined) throw new RuntimeError(`log verify: ${headProblem}`);
      if (o.json !== true) out(recorded === undefined ? 'ok: the chain verifies' : `ok: the chain verifies and still holds the head at position ${recorded.seq}`);
    });
}

interface VerifyOptions {
  json?: boolean;
  head?: string;
}

function parseHead(text: string): { seq: number; hash: string } {
  const m = /^(\d{1,15}):([0-9a-f]{64})$/i.exec(text.trim());
  if (m === null) throw new UsageError('invalid --head: use POSITION:HASH as log verify printed it (e.g. 41:9f86d0...)');
  return { seq: Number(m[1]), hash: (m[2] ?? '').toLowerCase() };
}
