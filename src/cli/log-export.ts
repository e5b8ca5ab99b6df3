import type { Command } from 'commander';
import { once } from 'node:events';
import { UsageError } from '../errors.js';
import type { StoredNetLogRow } from '../netlog/types.js';
import type { CliContext } from './context.js';
import { addFilterOptions, type FilterOptions, filtersToQuery, withParent } from './log-filters.js';

interface ExportOptions extends FilterOptions {
  format?: string;
}

const CSV_HEADER = [
  'id', 'request_id', 'at', 'tenant', 'sandbox', 'method', 'scheme', 'host', 'port', 'path', 'status', 'decision',
  'secrets', 'bytes_in', 'bytes_out', 'duration_ms', 'upstream_ip', 'error_code', 'complete', 'gateway',
];

/**
 * `standin log export`: every matching row, oldest first, streamed (one row in memory at a time,
 * waiting for stdout to drain), as JSON lines or CSV.
 */
export function registerLogExport(log: Command, ctx: CliContext): void {
  addFilterOptions(log.command('export').description('every matching row, streamed, as JSON lines or CSV'))
    .option('--format <format>', 'jsonl | csv', 'jsonl')
    .action(async (own: ExportOptions, cmd: Command) => {
      const o = withParent<ExportOptions>(own, cmd);
      const format = o.format ?? 'jsonl';
      if (format !== 'jsonl' && format !== 'csv') throw new UsageError(`invalid --format '${format.slice(0, 32)}': use jsonl or csv`);
      const query = { ...filtersToQuery(o), tenant: await ctx.tenant() };
      const line = format === 'csv' ? csvLine : (r: StoredNetLogRow): string => JSON.stringify(r);
      if (format === 'csv') await write(CSV_HEADER.join(','));
      let chunk = '';
      for await (const r of (await ctx.netlog()).iterate(query)) {
        chunk += `${line(r)}\n`;
        if (chunk.length >= 64 * 1024) {
          await write(chunk);
          chunk = '';
        }
      }
      if (chunk !== '') await write(chunk);
    });
}

async function write(text: string): Promise<void> {
  const s = text.endsWith('\n') ? text : `${text}\n`;
  if (!process.stdout.write(s)) await once(process.stdout, 'drain');
}

function csvLine(r: StoredNetLogRow): string {
  const cells: (string | number | boolean | null)[] = [
    r.id, r.requestId, new Date(r.at).toISOString(), r.tenant ?? null, r.sandbox, r.method, r.scheme, r.host, r.port, r.path,
    r.status, r.decision, r.secrets.join(' '), r.bytesIn, r.bytesOut, r.durationMs, r.upstreamIp, r.errorCode, r.complete !== false, r.gateway,
  ];
  return cells.map(csvCell).join(',');
}

// RFC 4180 quoting; a text cell a spreadsheet would run as a formula (= + - @, tab, CR) is
// prefixed with ' so that opening an export never evaluates what a sandbox put in a path.
function csvCell(v: string | number | boolean | null): string {
  if (v === null) return '';
  if (typeof v !== 'string') return String(v);
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n']/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
