import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { NetLogReader } from '../netlog/backend.js';
import type { NetLogQuery, StoredNetLogRow } from '../netlog/types.js';
import type { CliContext } from './context.js';
import { addFilterOptions, filtersToQuery, type FilterOptions } from './log-filters.js';
import { registerLogExplain } from './log-explain.js';
import { registerLogExport } from './log-export.js';
import { registerLogStats } from './log-stats.js';
import { registerLogUi } from './log-ui.js';
import { registerLogVerify } from './log-verify.js';
import { decisionColour, isoTime, orDash, out, printJsonLine, printTable, useColour, type Column } from './output.js';

interface LogOptions extends FilterOptions {
  limit?: string;
  json?: boolean;
  follow?: boolean;
  allTenants?: boolean;
}

const FOLLOW_INTERVAL_MS = 250;
const FOLLOW_BATCH = 1_000;

// Widths from the first batch would not fit later ones in --follow; these minimums keep columns steady.
const COLUMNS: readonly Column<StoredNetLogRow>[] = [
  { header: 'TIME', value: (r) => isoTime(r.at), min: 24 },
  { header: 'SANDBOX', value: (r) => orDash(r.sandbox), min: 12 },
  { header: 'METHOD', value: (r) => r.method, min: 7 },
  { header: 'HOST', value: (r) => (r.host === '' ? '-' : `${r.host}:${r.port}`), min: 28 },
  { header: 'PATH', value: (r) => orDash(r.path), min: 24 },
  { header: 'STATUS', value: (r) => (r.status === 0 ? '-' : String(r.status)), min: 6 },
  { header: 'DECISION', value: (r) => r.decision, min: 12, colour: (r) => decisionColour(r.decision) },
  { header: 'SECRETS', value: (r) => r.secrets.join(',') || '-', min: 10 },
  { header: 'DURATION', value: (r) => `${r.durationMs}ms`, min: 8 },
  { header: 'ERROR', value: (r) => orDash(r.errorCode), min: 10 },
  { header: 'GATEWAY', value: (r) => r.gateway || '-' },
];
const TENANT_COLUMN: Column<StoredNetLogRow> = { header: 'TENANT', value: (r) => orDash(r.tenant), min: 8 };

/**
 * `standin log`: the network log, newest N oldest first; `--follow` keeps printing new rows. Its
 * subcommands (stats, export, explain, verify, ui) each live in their own log-*.ts file.
 */
export function registerLog(program: Command, ctx: CliContext): void {
  // Subcommands read filters given to `log` too (withParent): `log stats --since 1h` gives --since to log.
  const log = addFilterOptions(program.command('log').description('show the network log (and inspect it: stats, export, explain, verify, ui)'))
    .option('--limit <n>', 'the newest N rows (default 100)')
    .option('--json', 'one JSON object per line')
    .option('--follow', 'keep printing new rows until interrupted')
    .option('--all-tenants', 'every tenant\'s rows (default: the --tenant\'s, with unauthenticated refusals under default)')
    .action(async (o: LogOptions) => {
      const query = toQuery(o);
      if (o.allTenants !== true) query.tenant = await ctx.tenant();
      const netlog = await ctx.netlog();
      const columns = o.allTenants === true ? [...COLUMNS.slice(0, 1), TENANT_COLUMN, ...COLUMNS.slice(1)] : COLUMNS;
      const colour = useColour(process.stdout);
      const print = (batch: readonly StoredNetLogRow[], json: boolean, header: boolean): void => {
        if (json) for (const r of batch) printJsonLine(r);
        else if (batch.length > 0) printTable(columns, batch, header, colour);
      };
      const rows = await netlog.query(query);
      print(rows, o.json === true, true);
      if (o.follow !== true) {
        if (rows.length === 0 && o.json !== true) out('no matching requests in the network log');
        return;
      }
      // With --limit 0 nothing was shown, so following starts at the end, not at the beginning.
      // The listing is in time order; following goes by row id, from the largest one shown.
      const start = rows.length > 0 ? Math.max(...rows.map((r) => r.id)) : query.limit === 0 ? await netlog.lastId() : 0;
      await follow(netlog, { ...query, limit: FOLLOW_BATCH }, start, o.json === true, rows.length > 0, print);
    });
  registerLogStats(log, ctx);
  registerLogExport(log, ctx);
  registerLogExplain(log, ctx);
  registerLogVerify(log, ctx);
  registerLogUi(log, ctx);
}

function toQuery(o: LogOptions): NetLogQuery {
  const q = filtersToQuery(o);
  if (o.limit !== undefined) {
    if (!/^\d{1,6}$/.test(o.limit.trim())) throw new UsageError(`invalid --limit '${o.limit}': use a number from 0 to 999999`);
    q.limit = Number(o.limit.trim());
  }
  return q;
}

/** Polls the backend's follower (rows after `start` as they become final) until SIGINT or SIGTERM; both end it normally (exit 0). */
type Printer = (rows: readonly StoredNetLogRow[], json: boolean, header: boolean) => void;

function follow(netlog: NetLogReader, query: NetLogQuery, start: number, json: boolean, headerShown: boolean, print: Printer): Promise<void> {
  return new Promise((resolve, reject) => {
    const follower = netlog.follow(query, start);
    let header = !headerShown;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const stop = (error?: unknown): void => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onSignal = (): void => stop();
    const poll = async (): Promise<void> => {
      try {
        for (;;) {
          const rows = await follower.next();
          if (stopped) return;
          print(rows, json, header && rows.length > 0);
          if (rows.length > 0) header = false;
          if (rows.length < FOLLOW_BATCH) break;
        }
      } catch (e) {
        // Thrown from a timer it would escape main's error mapping (and print a stack).
        stop(e);
        return;
      }
      // A signal may have ended following while the read was under way.
      if (!stopped) timer = setTimeout(() => void poll(), FOLLOW_INTERVAL_MS);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    timer = setTimeout(() => void poll(), FOLLOW_INTERVAL_MS);
  });
}
