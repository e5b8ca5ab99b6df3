import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { CertificateAuthority } from '../ca/types.js';
import { errnoCode, type HomePaths } from '../config/home.js';
import { RuntimeError } from '../errors.js';
import type { AsyncStore } from '../store/store-api.js';

/**
 * The CA of a gateway on PostgreSQL: the fleet's, from the database (see store/pg/pg-ca.ts). The
 * home keeps only the certificate (ca.pem, what `sandbox env`'s bundle is built from); the key
 * stays in the database, encrypted, and in this process's memory.
 */
export async function loadFleetCa(store: AsyncStore, paths: HomePaths): Promise<{ ca: CertificateAuthority; created: boolean }> {
  const [{ PgStore }, { fleetCa }, { caFromPem, newCaPem, readCaFiles }] = await Promise.all([
    import('../store/pg/pg-store.js'),
    import('../store/pg/pg-ca.js'),
    import('../ca/authority.js'),
  ]);
  if (!(store instanceof PgStore)) throw new Error('the fleet CA needs the PostgreSQL store');
  // A home that already had a CA offers it, so sandboxes that trust it keep doing so.
  const pem = await fleetCa(store, async () => (await readCaFiles(paths.caDir)) ?? newCaPem());
  const ca = await caFromPem(pem.certPem, pem.keyPem);
  writeCaCert(paths, ca.certPem);
  return { ca, created: pem.created };
}

// Written beside and renamed; left alone when it already holds this certificate.
function writeCaCert(paths: HomePaths, certPem: string): void {
  try {
    if (readFileSync(paths.caCert, 'utf8') === certPem) return;
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw new RuntimeError(`cannot read ${paths.caCert}: ${errnoCode(e) ?? 'unknown error'}`);
  }
  const tmp = `${paths.caCert}.${process.pid}.tmp`;
  try {
    mkdirSync(paths.caDir, { recursive: true, mode: 0o700 });
    chmodSync(paths.caDir, 0o700);
    writeFileSync(tmp, certPem, { mode: 0o644 });
    renameSync(tmp, paths.caCert);
  } catch (e) {
    throw new RuntimeError(`cannot write ${paths.caCert}: ${errnoCode(e) ?? 'unknown error'}`);
  }
}
