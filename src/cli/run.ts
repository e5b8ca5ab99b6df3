import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CliContext } from './context.js';
import { checkIsolateSupported, checkUser, setupIsolation, type Isolation } from './isolate.js';
import { checkProxyAddress, mergeNodeOptions, nodePreloadPath, resolveProxyAddress } from '../sandbox-env/env.js';
import { ensureNodePreload } from './init.js';
import { loadSandboxEnv } from './load-sandbox-env.js';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

// Variables that give access to the real secrets must not reach the sandbox: with the master key,
// the database in the home decrypts.
// Operator credentials that may sit in the caller's environment: the master key, and a control
// API key (the SDK reads it from there), which would let the program drive the gateway.
const WITHHELD = ['STANDIN_MASTER_KEY', 'STANDIN_API_KEY'];

/** `standin run NAME -- COMMAND [ARGS...]`: a program that only ever holds stand-in tokens. */
export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run <name> <command...>')
    .description('run a command with a sandbox\'s environment (put the command after --)')
    .option('--proxy <host:port>', 'gateway address (default: the running gateway, else 127.0.0.1:8877)')
    .option('--isolate', 'Linux, root: run in a network namespace where the gateway is the only reachable address')
    .option('--user <user>', 'with --isolate: run the command as NAME, UID or UID:GID')
    .usage('NAME [--proxy HOST:PORT] [--isolate [--user USER]] -- COMMAND [ARGS...]')
    .action(async (name: string, command: string[], o: { proxy?: string; isolate?: boolean; user?: string }) => {
      if (o.proxy !== undefined) checkProxyAddress(o.proxy);
      const [file, ...args] = command;
      if (file === undefined || file === '') throw new UsageError('run needs a command after --');
      if (o.user !== undefined && o.isolate !== true) throw new UsageError('--user needs --isolate');
      if (o.user !== undefined) checkUser(o.user);
      if (o.isolate === true) checkIsolateSupported();
      let isolation: Isolation | undefined;
      let sandboxEnv: Record<string, string>;
      if (o.isolate === true) {
        // Checked before anything is set up: a wrong name must not cost a namespace.
        if ((await (await ctx.store()).getSandbox(name)) === undefined) throw new UsageError(`no sandbox named '${name}'`);
        const paths = ctx.paths();
        ensureNodePreload(paths);
        isolation = await setupIsolation({ gateway: resolveProxyAddress(paths, o.proxy), caBundle: paths.caBundle, nodePreload: nodePreloadPath(paths.caBundle), user: o.user });
        try {
          // The home's bundle and preload are not reachable for a --user; the isolation's copies are.
          sandboxEnv = await loadSandboxEnv(ctx, name, isolation.proxy, isolation.caFile);
        } catch (e) {
          isolation.cleanup();
          throw e;
        }
      } else {
        sandboxEnv = await loadSandboxEnv(ctx, name, o.proxy);
      }
      // Nothing of the home stays open while the child runs, however long that is.
      await ctx.close();
      const env: NodeJS.ProcessEnv = { ...process.env, ...sandboxEnv };
      // The caller's own Node options (a heap size, a loader) stay, after the proxy preload.
      if (sandboxEnv['NODE_OPTIONS'] !== undefined) env['NODE_OPTIONS'] = mergeNodeOptions(sandboxEnv['NODE_OPTIONS'], process.env['NODE_OPTIONS']);
      for (const v of WITHHELD) delete env[v];
      const argv = isolation === undefined ? { file, args } : isolation.wrap(file, args);
      isolation?.releaseSignals();
      try {
        process.exitCode = await runChild(argv.file, argv.args, env, file);
      } finally {
        isolation?.cleanup();
      }
    });
}

/** Runs the child with inherited stdio; resolves to the exit code `standin run` should exit with. */
function runChild(file: string, args: string[], env: NodeJS.ProcessEnv, shownAs = file): Promise<number> {
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
      process.stderr.write(`standin: ${notFound ? 'command not found' : 'cannot execute'}: ${printable(shownAs)}\n`);
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
