import type { Statement } from 'better-sqlite3';
import { RuntimeError } from '../errors.js';
import { decryptValue } from './crypto.js';
import type { Db } from './database.js';

/**
 * The master key as a long-running process holds it. `masterkey rotate` (another process)
 * re-encrypts the database and bumps `master_key_epoch` in the same transaction; every use of the
 * key here first reads that one-row table (microseconds), so a process whose key went stale
 * notices at once instead of encrypting new values under a key nobody else has. It then asks
 * `reload` for candidate keys (the key file, the pending key file of a rotation in progress) and
 * takes the one the database opens with. A process without `reload` (the CLI) just fails clearly.
 */
export class MasterKeyRing {
  #key: Buffer;
  #epoch: number;
  readonly #db: Db;
  readonly #readEpoch: Statement<[], { epoch: number }>;
  readonly #reload: (() => Buffer[]) | undefined;

  constructor(db: Db, key: Buffer, reload?: () => Buffer[]) {
    if (key.length !== 32) throw new RuntimeError('master key must be 32 bytes');
    this.#db = db;
    this.#key = key;
    this.#reload = reload;
    this.#readEpoch = db.prepare('SELECT epoch FROM master_key_epoch WHERE id = 1');
    this.#epoch = this.#currentEpoch();
  }

  /** The key the database is under now; throws if it changed and the new one is not available. */
  current(): Buffer {
    const epoch = this.#currentEpoch();
    if (epoch === this.#epoch) return this.#key;
    for (const candidate of this.#reload?.() ?? []) {
      if (candidate.length === 32 && opensDatabase(this.#db, candidate)) {
        this.#key = candidate;
        this.#epoch = epoch;
        return candidate;
      }
    }
    throw new RuntimeError('the master key was rotated by another process and the new key is not available to this one: restart it with the new key');
  }

  #currentEpoch(): number {
    return this.#readEpoch.get()?.epoch ?? 0;
  }
}

/** One stored ciphertext and its associated data, to tell which key the database is under. */
export function sampleCiphertext(db: Db): { blob: Buffer; aad: string } | undefined {
  return (
    db.prepare<[], { blob: Buffer; aad: string }>(`SELECT ciphertext AS blob, secret_id || ':' || version AS aad FROM secret_versions LIMIT 1`).get() ??
    db.prepare<[], { blob: Buffer; aad: string }>(`SELECT proxy_key_enc AS blob, 'sandbox:' || id AS aad FROM sandboxes LIMIT 1`).get()
  );
}

/** Whether `key` opens a stored ciphertext (true when nothing is encrypted yet). */
export function opensDatabase(db: Db, key: Buffer): boolean {
  const sample = sampleCiphertext(db);
  if (sample === undefined) return true;
  try {
    decryptValue(key, sample.blob, sample.aad);
    return true;
  } catch {
    return false;
  }
}
