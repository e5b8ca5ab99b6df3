import { escapeForTerminal } from '../netlog/sanitize.js';

/**
 * Everything the CLI prints on stdout goes through here. Table cells pass through
 * escapeForTerminal, because names, hosts and paths can come from a sandbox; JSON needs no
 * escaping (JSON.stringify escapes every control character).
 */

export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** One JSON document, pretty-printed (secret list, sandbox env --format json, ...). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON object on one line (`standin log --json`, one per row). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Lower bound on the width, so that `log --follow` batches line up with the first one. */
  min?: number;
}

/** Formats rows as aligned columns; every cell escaped. The last column is not padded. */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[], header = true): string {
  const cells = rows.map((r) => columns.map((c) => escapeForTerminal(c.value(r))));
  const widths = columns.map((c, i) =>
    Math.max(c.min ?? 0, header ? c.header.length : 0, ...cells.map((row) => row[i]?.length ?? 0)),
  );
  const lines = header ? [columns.map((c) => c.header)] : [];
  lines.push(...cells);
  return lines
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function printTable<T>(columns: readonly Column<T>[], rows: readonly T[], header = true): void {
  const text = renderTable(columns, rows, header);
  if (text !== '') out(text);
}

export function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '-';
}

export function orDash(s: string | null | undefined): string {
  return s === null || s === undefined || s === '' ? '-' : s;
}
