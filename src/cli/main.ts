#!/usr/bin/env node
import { Command } from 'commander';
import { registerApiKey } from './apikey.js';
import { registerAudit } from './audit.js';
import { registerCa } from './ca.js';
import { registerExport } from './export.js';
import { registerMasterKey } from './masterkey.js';
import { createContext } from './context.js';
import { reportError } from './errors.js';
import { registerInit } from './init.js';
import { registerLog } from './log.js';
import { registerProviders } from './providers.js';
import { registerRun } from './run.js';
import { registerSandbox } from './sandbox.js';
import { registerSecret } from './secret.js';
import { registerServe } from './serve.js';
import { registerTenant } from './tenant.js';

/**
 * The `standin` command. Commander parses; every failure, ours or commander's, goes through
 * reportError so that it is one line on stderr with exit code 2 (usage) or 1 (runtime).
 */
export function buildProgram(): { program: Command; close: () => Promise<void> } {
  const program = new Command('standin');
  const ctx = createContext(() => program.opts<{ home?: string; tenant?: string; database?: string }>());
  program
    .description('credential-swapping egress gateway for sandboxes')
    .version('0.1.0')
    .option('--home <dir>', 'standin home (default: $STANDIN_HOME, else ~/.standin)')
    .option('--tenant <name>', 'the tenant to act in (default: $STANDIN_TENANT, else default)')
    .option('--database <url>', 'postgres://USER:PASSWORD@HOST:PORT/DB for a fleet on PostgreSQL (default: $STANDIN_DATABASE_URL, else SQLite in the home)')
    .showSuggestionAfterError(true);
  registerInit(program, ctx);
  registerServe(program, ctx);
  registerSecret(program, ctx);
  registerProviders(program);
  registerSandbox(program, ctx);
  registerRun(program, ctx);
  registerLog(program, ctx);
  registerAudit(program, ctx);
  registerCa(program, ctx);
  registerApiKey(program, ctx);
  registerTenant(program, ctx);
  registerExport(program, ctx);
  registerMasterKey(program, ctx);
  // Errors are thrown (exitOverride) rather than printed and exited on by commander, on every
  // subcommand; its own error output is switched off so that ours is the only line.
  const quiet = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeErr: () => undefined, outputError: () => undefined });
    for (const sub of cmd.commands) quiet(sub);
  };
  quiet(program);
  return { program, close: () => ctx.close() };
}

async function main(argv: readonly string[]): Promise<number> {
  const { program, close } = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'node' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  } finally {
    await close().catch(() => undefined);
  }
}

// A reader that stops early (`standin log | head`) closes the pipe: that ends the output, it is
// not a failure worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
process.exitCode = await main(process.argv);
