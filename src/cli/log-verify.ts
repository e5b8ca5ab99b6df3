import type { Command } from 'commander';
import { RuntimeError } from '../errors.js';
import { verifyChain } from '../netlog/verify.js';
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
    .action((own: { json?: boolean }, cmd: Command) => {
      const o = withParent<{ json?: boolean }>(own, cmd);
      const r = verifyChain(ctx.db());
      if (o.json === true) printJson(r);
      else {
        const from = r.anchor === 0 ? 'from the first row' : `from position ${r.anchor} (where retention last pruned)`;
        out(`${r.verified} rows verified ${from}; head: position ${r.head.seq}, hash ${r.head.hash}`);
        if (r.unsealed > 0) out(`${r.unsealed} rows outside the chain (not yet completed, or written before the chain existed)`);
      }
      if (!r.ok) {
        throw new RuntimeError(`log verify: ${r.first?.message ?? 'the chain does not verify'}${r.problems > 1 ? ` (and ${r.problems - 1} more problems)` : ''}`);
      }
      if (o.json !== true) out('ok: the chain verifies');
    });
}
