import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ensureHomeDir, errnoCode, loadOrCreateMasterKey, type HomePaths } from '../config/home.js';
import { RuntimeError } from '../errors.js';
import { nodePreloadPath } from '../sandbox-env/env.js';
import { nodePreloadSource } from '../sandbox-env/preload-source.js';
import { openDatabase } from '../store/database.js';
import type { CliContext } from './context.js';
import { out } from './output.js';

export interface InitResult {
  /** What this run created or repaired, one human-readable item each; empty when nothing changed. */
  changes: string[];
}

/**
 * Brings a home to a usable state: directory (0700), master key, CA, CA bundle, database. Each
 * step leaves an existing piece alone, so running it again changes nothing; `serve` calls it too,
 * so that `npm start` works on a fresh machine.
 */
export async function initHome(paths: HomePaths, env: NodeJS.ProcessEnv = process.env, fleetCa?: () => Promise<{ ca: { certPem: string }; created: boolean }>): Promise<InitResult> {
  const changes: string[] = [];
  if (ensureHomeDir(paths)) changes.push(`created home ${paths.home}`);
  const key = loadOrCreateMasterKey(paths, env);
  if (key.created) changes.push(`created master key ${paths.masterKey}`);
  let ca: { certPem: string };
  if (fleetCa !== undefined) {
    // On PostgreSQL the CA is the fleet's, in the database (the first gateway stores it).
    const fleet = await fleetCa();
    ca = fleet.ca;
    if (fleet.created) changes.push('stored the fleet CA in the database');
  } else {
    const { loadOrCreateCa } = await import('../ca/authority.js');
    const local = await loadOrCreateCa(paths.caDir);
    ca = local.ca;
    if (local.created) changes.push(`created CA ${paths.caCert}`);
  }
  if (await ensureCaBundle(paths, ca.certPem)) changes.push(`wrote CA bundle ${paths.caBundle}`);
  if (ensureNodePreload(paths)) changes.push(`wrote Node proxy preload ${nodePreloadPath(paths.caBundle)}`);
  const hadDb = existsSync(paths.db);
  openDatabase(paths.db).close();
  if (!hadDb) changes.push(`created database ${paths.db}`);
  return { changes };
}

/** Whether a home has everything `init` makes (the master key may come from the environment). */
export function isInitialised(paths: HomePaths, env: NodeJS.ProcessEnv = process.env): boolean {
  const keyFromEnv = (env['STANDIN_MASTER_KEY'] ?? '').trim() !== '';
  return existsSync(paths.db) && existsSync(paths.caCert) && (keyFromEnv || existsSync(paths.masterKey));
}

// The CA module pulls in the X.509 library (~150 ms to load); commands that only read the store
// should not pay for it, so it is loaded where a certificate is actually made or bundled.

/**
 * Writes the CA bundle (system roots + the standin CA) that `sandbox env` points clients at, when
 * it is missing or does not hold the current CA. Returns whether it wrote.
 */
export async function ensureCaBundle(paths: HomePaths, caPem: string): Promise<boolean> {
  try {
    if (readFileSync(paths.caBundle, 'utf8').includes(caPem.trim())) return false;
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw bundleError(paths, e);
  }
  // Written beside and renamed, so a client reading the bundle never sees half of one.
  const { caBundlePem } = await import('../ca/authority.js');
  const tmp = `${paths.caBundle}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, caBundlePem(caPem), { mode: 0o644 });
    renameSync(tmp, paths.caBundle);
  } catch (e) {
    throw bundleError(paths, e);
  }
  return true;
}

/**
 * Writes the Node proxy preload next to the CA bundle (the sandbox env's NODE_OPTIONS names it),
 * when it is missing or is not this version's. Returns whether it wrote.
 */
export function ensureNodePreload(paths: HomePaths): boolean {
  const file = nodePreloadPath(paths.caBundle);
  const text = nodePreloadSource();
  try {
    if (readFileSync(file, 'utf8') === text) return false;
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw new RuntimeError(`cannot read Node proxy preload ${file}: ${errnoCode(e) ?? 'unknown error'}`);
  }
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, file);
  } catch (e) {
    throw new RuntimeError(`cannot write Node proxy preload ${file}: ${errnoCode(e) ?? 'unknown error'}`);
  }
  return true;
}

function bundleError(paths: HomePaths, e: unknown): RuntimeError {
  return new RuntimeError(`cannot write CA bundle ${paths.caBundle}: ${errnoCode(e) ?? 'unknown error'}`);
}

export function registerInit(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('create the home, master key, CA and database (idempotent)')
    .action(async () => {
      const paths = ctx.paths();
      const database = ctx.database();
      // On PostgreSQL, opening the store migrates the database (safe when gateways start at once).
      const fleet = database.kind === 'postgres' ? async () => (await import('./fleet-ca.js')).loadFleetCa(await ctx.store(), paths) : undefined;
      const { changes } = await initHome(paths, process.env, fleet);
      if (database.kind === 'postgres') changes.push(`database ${database.display} is up to date`);
      if (changes.length === 0) {
        out(`standin home at ${paths.home} is already initialised (nothing changed)`);
        return;
      }
      out(`initialised standin home at ${paths.home}`);
      for (const c of changes) out(`  ${c}`);
    });
}
