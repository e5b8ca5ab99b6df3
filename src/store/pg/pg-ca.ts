import { decryptValue, encryptValue } from '../crypto.js';
import { CA_AAD } from './pg-store.js';
import type { PgStore } from './pg-store.js';

export interface CaPem {
  certPem: string;
  keyPem: string;
}

/**
 * The fleet's CA, kept in the database: the certificate in clear, the private key encrypted
 * under the master key (AES-256-GCM, aad "ca"), so that every gateway of the fleet mints leaves
 * under the one CA its sandboxes trust, wherever they connect. The first gateway stores `offer()`
 * (its home's CA if it had one, so that sandboxes keep trusting it, else a new one); gateways
 * starting at once converge on whichever row was inserted first.
 */
export async function fleetCa(store: PgStore, offer: () => Promise<CaPem>): Promise<CaPem & { created: boolean }> {
  const found = await readCa(store);
  if (found !== undefined) return { ...found, created: false };
  const mine = await offer();
  const inserted = await store.db.write(async (q) => {
    const key = await store.keys.current(q);
    const rows = await q.query(
      `INSERT INTO certificate_authority (id, cert_pem, key_enc, created_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [mine.certPem, encryptValue(key, mine.keyPem, CA_AAD), Date.now()],
    );
    return rows.length > 0;
  });
  const stored = await readCa(store);
  if (stored === undefined) throw new Error('CA row vanished after insert');
  return { ...stored, created: inserted };
}

async function readCa(store: PgStore): Promise<CaPem | undefined> {
  const row = (await store.db.query<{ cert_pem: string; key_enc: Buffer }>('SELECT cert_pem, key_enc FROM certificate_authority WHERE id = 1'))[0];
  if (row === undefined) return undefined;
  return { certPem: row.cert_pem, keyPem: decryptValue(await store.keys.current(store.db), row.key_enc, CA_AAD) };
}
