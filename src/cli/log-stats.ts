import type { Command } from 'commander';
import type { CountRow } from '../netlog/stats.js';
import type { CliContext } from './context.js';
import { addFilterOptions, type FilterOptions, filtersToQuery, withParent } from './log-filters.js';
import { out, printJson, printTable, type Column } from './output.js';

interface StatsOptions extends FilterOptions {
  json?: boolean;
}

const COUNTS = (title: string): readonly Column<CountRow>[] => [
  { header: title, value: (r) => r.key, min: 24 },
  { header: 'REQUESTS', value: (r) => String(r.requests), min: 8 },
  { header: 'BYTES IN', value: (r) => String(r.bytesIn), min: 10 },
  { header: 'BYTES OUT', value: (r) => String(r.bytesOut) },
];
const PAIRS = (title: string): readonly Column<{ key: string; requests: number }>[] => [
  { header: title, value: (r) => r.key, min: 24 },
  { header: 'REQUESTS', value: (r) => String(r.requests) },
];

/** `standin log stats`: per sandbox and host counts, refusals by reason, bytes, swaps per secret@version. */
export function registerLogStats(log: Command, ctx: CliContext): void {
  addFilterOptions(log.command('stats').description('counts per sandbox and host, refusals by reason, bytes, swaps per secret@version'))
    .option('--json', 'one JSON document')
    .action(async (own: StatsOptions, cmd: Command) => {
      const o = withParent<StatsOptions>(own, cmd);
      const query = { ...filtersToQuery(o), tenant: await ctx.tenant() };
      const s = await (await ctx.netlog()).stats(query);
      if (o.json === true) {
        printJson(s);
        return;
      }
      out(`${s.total.requests} requests, ${s.total.refused} refused or failed, ${s.total.bytesIn} bytes in, ${s.total.bytesOut} bytes out`);
      const section = <T>(columns: readonly Column<T>[], rows: readonly T[]): void => {
        if (rows.length === 0) return;
        out('');
        printTable(columns, rows);
      };
      section(COUNTS('SANDBOX'), s.bySandbox);
      section(COUNTS('HOST'), s.byHost);
      section(PAIRS('DECISION'), s.byDecision);
      section(PAIRS('REFUSED BY (ERROR CODE)'), s.refusals);
      section(PAIRS('SWAPS (SECRET@VERSION)'), s.swaps);
    });
}
