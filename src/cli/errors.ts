import { CommanderError } from 'commander';
import { RuntimeError, UsageError } from '../errors.js';
import { escapeForTerminal } from '../netlog/sanitize.js';
import { WorkerStartError } from '../workers/protocol.js';

/**
 * The one place where an error becomes an exit code and a line on stderr.
 *
 * Only our own error classes have their message printed: those messages are written by us and
 * never contain a secret value. Any other error (a library's, a bug) could carry anything (a
 * value in a JSON parse error, a path, a header), so only its class name is shown.
 */

/** Several input problems found at once (serve's option checks): one line each, exit 2. */
export class UsageProblems extends UsageError {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

export interface Reported {
  exitCode: number;
  lines: string[];
}

// Commander codes that are not failures: help or version was asked for and already printed.
const COMMANDER_OK = new Set(['commander.helpDisplayed', 'commander.version']);

export function describeError(e: unknown): Reported {
  if (e instanceof UsageProblems) return { exitCode: 2, lines: e.problems.map(line) };
  if (e instanceof UsageError) return { exitCode: 2, lines: [line(e.message)] };
  if (e instanceof RuntimeError) return { exitCode: 1, lines: [line(e.message)] };
  if (e instanceof CommanderError) return fromCommander(e);
  // Described by the worker that failed, with these same rules: its lines are printed as they are.
  if (e instanceof WorkerStartError) return { exitCode: e.exitCode, lines: e.lines };
  const name = e instanceof Error ? e.name : typeof e;
  return { exitCode: 1, lines: [line(`internal error (${name})`)] };
}

/** Prints the lines of an error on stderr and returns the exit code to use. */
export function reportError(e: unknown): number {
  const { exitCode, lines } = describeError(e);
  for (const l of lines) process.stderr.write(`${l}\n`);
  return exitCode;
}

function fromCommander(e: CommanderError): Reported {
  if (COMMANDER_OK.has(e.code)) return { exitCode: 0, lines: [] };
  if (e.code === 'commander.help') {
    // A command group called without a subcommand: commander's own output (the help, on stderr)
    // is switched off so that an error stays one line.
    return { exitCode: 2, lines: [line('missing command: see `standin --help`')] };
  }
  // Commander's messages start with "error: " and may add "(Did you mean ...?)" on a new line.
  // An unknown `--opt=value` is echoed whole; the value may be a credential typed in the wrong place.
  const text = e.message
    .replace(/^error:\s*/i, '')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/'(-{1,2}[^'=\s]*)=[^']*'/g, "'$1=...'")
    .trim();
  return { exitCode: 2, lines: [line(text === '' ? 'invalid usage' : text)] };
}

function line(message: string): string {
  return `standin: ${escapeForTerminal(message.replace(/\s*\n\s*/g, ' '))}`;
}
