import type { Command } from 'commander';
import { RuntimeError, UsageError } from '../errors.js';
import { explainRow } from '../netlog/explain.js';
import { escapeForTerminal } from '../netlog/sanitize.js';
import type { CliContext } from './context.js';
import { withParent } from './log-filters.js';
import { out, printJson } from './output.js';

const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `standin log explain REQUEST_ID`: one row in plain words, and what to change to make it work. */
export function registerLogExplain(log: Command, ctx: CliContext): void {
  log
    .command('explain <requestId>')
    .description('one request in plain words: what happened, why, and what to change')
    .option('--json', 'one JSON document (the explanation and the row)')
    .action(async (requestId: string, own: { json?: boolean }, cmd: Command) => {
      const o = withParent<{ json?: boolean }>(own, cmd);
      const id = requestId.trim();
      if (!REQUEST_ID.test(id)) throw new UsageError(`invalid request id '${escapeForTerminal(id.slice(0, 64))}': use the id a refusal or the log names`);
      const row = await (await ctx.netlog()).record(id.toLowerCase(), await ctx.tenant());
      if (row === undefined) throw new RuntimeError(`no request ${id} in the network log of tenant ${await ctx.tenant()}`);
      const e = explainRow(row);
      if (o.json === true) {
        printJson({ ...e, row });
        return;
      }
      // Every sentence holds row fields a sandbox chose (path, host): escaped like table cells.
      out(escapeForTerminal(e.summary));
      out('');
      for (const l of e.happened) out(`- ${escapeForTerminal(l)}`);
      if (e.fix.length > 0) {
        out('');
        out('To make it work:');
        for (const l of e.fix) out(`- ${escapeForTerminal(l)}`);
      }
      if (row.hash !== null) out(`\nchain position ${row.chainSeq ?? '-'}, hash ${row.hash}`);
    });
}
