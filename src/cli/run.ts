import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CliContext } from './context.js';
import { checkProxyAddress, loadSandboxEnv } from './sandbox-env.js';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

// Variables that give access to the real secrets must not reach the sandbox: with the master key,
// the database in the home decrypts.
const WITHHELD = ['STANDIN_MASTER_KEY'];

/** `standin run NAME -- COMMAND [ARGS...]`: a program that only ever holds stand-in tokens. */
export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run <name> <command...>')
    .description('run a command with a sandbox\'s environment (put the command after --)')
    .option('--proxy <host:port>', 'gateway address (default: the running gateway, else 127.0.0.1:8877)')
    .usage('NAME [--proxy HOST:PORT] -- COMMAND [ARGS...]')
    .action(async (name: string, command: string[], o: { proxy?: string }) => {
      if (o.proxy !== undefined) checkProxyAddress(o.proxy);
      const [file, ...args] = command;
      if (file === undefined || file === '') throw new UsageError('run needs a command after --');
      const sandboxEnv = await loadSandboxEnv(ctx, name, o.proxy);
      // Nothing of the home stays open while the child runs, however long that is.
      ctx.close();
      const env: NodeJS.ProcessEnv = { ...process.env, ...sandboxEnv };
      for (const v of WITHHELD) delete env[v];
      process.exitCode = await runChild(file, args, env);
    });
}

/** Runs the child with inherited stdio; resolves to the exit code `standin run` should exit with. */
function runChild(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit', env });
    // A signal to us (Ctrl-C reaches both, a `kill` only us) is passed on; the child decides
    // whether to stop, and we exit with whatever it does.
    const forward = (signal: NodeJS.Signals): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    for (const s of FORWARDED) process.on(s, forward);
    const done = (code: number): void => {
      for (const s of FORWARDED) process.off(s, forward);
      resolve(code);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      // spawn failed: the command does not exist or cannot be executed (shell conventions 127/126).
      const notFound = e.code === 'ENOENT';
      process.stderr.write(`standin: ${notFound ? 'command not found' : 'cannot execute'}: ${printable(file)}\n`);
      done(notFound ? 127 : 126);
    });
    child.once('exit', (code, signal) => {
      if (signal !== null) done(128 + (constants.signals[signal] ?? 0));
      else done(code ?? 1);
    });
  });
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
