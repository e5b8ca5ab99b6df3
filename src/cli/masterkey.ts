import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { loadMasterKey } from '../config/home.js';
import { UsageError } from '../errors.js';
import type { CliContext } from './context.js';
import { out } from './output.js';
import { commitKeyFile, keyFromEnvVar, pendingKeyPath, readPendingKey, removeQuietly, writePendingKey } from './masterkey-file.js';

// A running serve notices the rotation (an epoch in the database) and reloads the key file; a
// key given in the environment cannot be reloaded from anywhere.
const PICKED_UP = 'a running `standin serve` picks up the new key file by itself';
const RESTART = 'restart `standin serve` with the new STANDIN_MASTER_KEY if it is running';

/**
 * `standin masterkey rotate`: re-encrypts every stored value under a new master key. With the key
 * in `master.key`, a new random key (or the one in `--new-key-env`) replaces the file. With the
 * key in STANDIN_MASTER_KEY, standin cannot replace it: the operator supplies the new key in
 * another variable and updates STANDIN_MASTER_KEY afterwards.
 */
export function registerMasterKey(program: Command, ctx: CliContext, env: NodeJS.ProcessEnv = process.env): void {
  const mk = program.command('masterkey').description('manage the master key that encrypts stored values');
  mk.command('rotate')
    .description('re-encrypt every stored value under a new master key, in one transaction')
    .option('--new-key-env <var>', 'take the new key from this environment variable (32 bytes, base64 or hex)')
    .action(async (o: { newKeyEnv?: string }) => {
      const fromEnv = (env['STANDIN_MASTER_KEY'] ?? '').trim() !== '';
      if (fromEnv && o.newKeyEnv === undefined) {
        throw new UsageError('the master key comes from STANDIN_MASTER_KEY, which standin cannot replace: put a new key in another variable and run `standin masterkey rotate --new-key-env VAR`');
      }
      const newKey = o.newKeyEnv === undefined ? randomBytes(32) : keyFromEnvVar(o.newKeyEnv, env);
      const paths = ctx.paths();
      const store = await ctx.store();
      const old = loadMasterKey(paths, env).key;
      const actor = ctx.actor();

      if (fromEnv) {
        const r = await store.rekey(old, newKey, actor, { source: 'env', newKeyFrom: o.newKeyEnv });
        out(`re-encrypted ${r.secretVersions} secret versions and ${r.sandboxes} sandbox keys under the key in ${o.newKeyEnv}`);
        out(`set STANDIN_MASTER_KEY to that key before the next command; ${RESTART}`);
        return;
      }

      const pending = pendingKeyPath(paths.masterKey);
      const leftover = readPendingKey(pending);
      if (leftover !== undefined && (await store.keyInUse(old, leftover)) === 'new') {
        commitKeyFile(pending, paths.masterKey);
        out(`finished an interrupted rotation: ${paths.masterKey} now holds the key the database is under; ${PICKED_UP}`);
        return;
      }
      removeQuietly(pending);
      writePendingKey(pending, newKey);
      let r;
      try {
        r = await store.rekey(old, newKey, actor, { source: 'file' });
      } catch (e) {
        removeQuietly(pending);
        throw e;
      }
      commitKeyFile(pending, paths.masterKey);
      out(`re-encrypted ${r.secretVersions} secret versions and ${r.sandboxes} sandbox keys; ${paths.masterKey} holds the new key`);
      out(PICKED_UP);
    });
}
