import { RuntimeError } from '../errors.js';
import { AuditRepo } from './audit-repo.js';
import { decryptValue, encryptValue, sandboxAad, secretAad } from './crypto.js';
import type { Db } from './database.js';
import { opensDatabase, sampleCiphertext } from './master-key-ring.js';
import { DEFAULT_TENANT } from '../model/secrets.js';

/**
 * Master key rotation, database side: every stored ciphertext (each version of each secret, each
 * sandbox's proxy key) is decrypted under the old key and encrypted under the new one in ONE
 * transaction, with its audit row. Either all of it happens or none: a value that does not decrypt
 * under the old key aborts the whole rotation and leaves the database as it was.
 */
export interface RekeyResult {
  secretVersions: number;
  sandboxes: number;
}

export function reencryptAll(db: Db, oldKey: Buffer, newKey: Buffer, actor: string, detail: Record<string, unknown> = {}, clock: () => number = Date.now): RekeyResult {
  if (oldKey.equals(newKey)) throw new RuntimeError('the new master key is the same as the current one');
  const versions = db.prepare<[], { secret_id: string; version: number; ciphertext: Buffer }>(
    'SELECT secret_id, version, ciphertext FROM secret_versions ORDER BY secret_id, version',
  );
  const setVersion = db.prepare<[Buffer, string, number]>('UPDATE secret_versions SET ciphertext = ? WHERE secret_id = ? AND version = ?');
  const sandboxes = db.prepare<[], { id: string; proxy_key_enc: Buffer }>('SELECT id, proxy_key_enc FROM sandboxes ORDER BY id');
  const setSandbox = db.prepare<[Buffer, string]>('UPDATE sandboxes SET proxy_key_enc = ? WHERE id = ?');
  const audit = new AuditRepo(db, clock);
  // Running gateways compare this with the epoch they loaded their key at (master-key-ring.ts).
  const bumpEpoch = db.prepare('UPDATE master_key_epoch SET epoch = epoch + 1 WHERE id = 1');
  return db.transaction((): RekeyResult => {
    let secretVersions = 0;
    for (const row of versions.all()) {
      const aad = secretAad(row.secret_id, row.version);
      setVersion.run(encryptValue(newKey, reopen(oldKey, row.ciphertext, aad), aad), row.secret_id, row.version);
      secretVersions++;
    }
    let sandboxCount = 0;
    for (const row of sandboxes.all()) {
      const aad = sandboxAad(row.id);
      setSandbox.run(encryptValue(newKey, reopen(oldKey, row.proxy_key_enc, aad), aad), row.id);
      sandboxCount++;
    }
    bumpEpoch.run();
    audit.record(DEFAULT_TENANT, actor, 'masterkey.rotate', 'master-key', { ...detail, secretVersions, sandboxes: sandboxCount });
    return { secretVersions, sandboxes: sandboxCount };
  }).immediate();
}

/**
 * Which of two keys the database's ciphertexts are under: 'old', 'new', or 'empty' when nothing
 * is encrypted yet. Used to finish a rotation interrupted between the commit and the key file.
 */
export function keyInUse(db: Db, oldKey: Buffer, newKey: Buffer): 'old' | 'new' | 'empty' | 'neither' {
  if (sampleCiphertext(db) === undefined) return 'empty';
  if (opensDatabase(db, oldKey)) return 'old';
  if (opensDatabase(db, newKey)) return 'new';
  return 'neither';
}

function reopen(key: Buffer, blob: Buffer, aad: string): string {
  try {
    return decryptValue(key, blob, aad);
  } catch {
    throw new RuntimeError('master key rotation aborted: a stored value does not decrypt under the current master key (nothing was changed)');
  }
}
