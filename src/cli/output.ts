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
  /** SGR colour of the cell on a terminal (`31` red); the padding stays outside it. */
  colour?: (row: T) => string | undefined;
}

/** Formats rows as aligned columns; every cell escaped. The last column is not padded. */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[], header = true, colour = false): string {
  const cells = rows.map((r) => columns.map((c) => escapeForTerminal(c.value(r))));
  // Colour codes are ours, added after escaping and after the widths are measured.
  const colours = rows.map((r) => columns.map((c) => (colour ? c.colour?.(r) : undefined)));
  const widths = columns.map((c, i) =>
    Math.max(c.min ?? 0, header ? c.header.length : 0, ...cells.map((row) => row[i]?.length ?? 0)),
  );
  const lines = header ? [columns.map((c) => c.header)] : [];
  lines.push(...cells);
  const offset = header ? 1 : 0;
  return lines
    .map((row, n) =>
      row
        .map((cell, i) => {
          const padded = i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
          const sgr = colours[n - offset]?.[i];
          return sgr === undefined ? padded : `\x1b[${sgr}m${cell}\x1b[0m${padded.slice(cell.length)}`;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function printTable<T>(columns: readonly Column<T>[], rows: readonly T[], header = true, colour = false): void {
  const text = renderTable(columns, rows, header, colour);
  if (text !== '') out(text);
}

export function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '-';
}

export function orDash(s: string | null | undefined): string {
  return s === null || s === undefined || s === '' ? '-' : s;
}

/** Colour only on a terminal, and never when NO_COLOR is set (no-color.org). */
export function useColour(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb';
}

/** Refusals red, failures yellow, swaps green; a request forwarded untouched stays plain. */
export function decisionColour(decision: string): string | undefined {
  if (decision === 'swapped') return '32';
  if (decision === 'denied' || decision === 'token_misuse') return '31';
  if (decision === 'error') return '33';
  return undefined;
}
