import { RuntimeError } from '../../errors.js';
import { decryptValue } from '../crypto.js';
import type { Queryable } from './pg-db.js';

/**
 * The master key as a process on PostgreSQL holds it: like MasterKeyRing (SQLite), every use
 * first reads `master_key_epoch`, so a process whose key was rotated away by another gateway's
 * `masterkey rotate` notices before it encrypts anything, and takes the new key from `reload`
 * (STANDIN_MASTER_KEY / the key file, re-read) when that opens the database.
 */
export class PgKeyRing {
  #key: Buffer;
  #epoch: number | undefined;
  readonly #reload: (() => Buffer[]) | undefined;

  constructor(key: Buffer, reload?: () => Buffer[]) {
    if (key.length !== 32) throw new RuntimeError('master key must be 32 bytes');
    this.#key = key;
    this.#reload = reload;
  }

  async current(q: Queryable): Promise<Buffer> {
    const epoch = (await q.query<{ epoch: number }>('SELECT epoch FROM master_key_epoch WHERE id = 1'))[0]?.epoch ?? 0;
    if (this.#epoch === undefined) this.#epoch = epoch;
    if (epoch === this.#epoch) return this.#key;
    const sample = await sampleCiphertext(q);
    const key = this.pick(epoch, sample);
    if (key === undefined) throw stale();
    return key;
  }

  /**
   * The key for `epoch` given one stored ciphertext (the snapshot has both in memory); undefined
   * when neither the held key nor any reloaded one opens it.
   */
  pick(epoch: number, sample: Sample | undefined): Buffer | undefined {
    if (this.#epoch === undefined) this.#epoch = epoch;
    if (epoch === this.#epoch) return this.#key;
    for (const candidate of [this.#key, ...(this.#reload?.() ?? [])]) {
      if (candidate.length === 32 && opens(candidate, sample)) {
        this.#key = candidate;
        this.#epoch = epoch;
        return candidate;
      }
    }
    return undefined;
  }

  /** The key as held now, without checking the database (tests, and the first load). */
  get held(): Buffer {
    return this.#key;
  }
}

export interface Sample {
  blob: Buffer;
  aad: string;
}

export async function sampleCiphertext(q: Queryable): Promise<Sample | undefined> {
  const v = await q.query<Sample>(`SELECT ciphertext AS blob, secret_id || ':' || version AS aad FROM secret_versions LIMIT 1`);
  if (v[0] !== undefined) return v[0];
  const s = await q.query<Sample>(`SELECT proxy_key_enc AS blob, 'sandbox:' || id AS aad FROM sandboxes LIMIT 1`);
  return s[0];
}

export function opens(key: Buffer, sample: Sample | undefined): boolean {
  if (sample === undefined) return true;
  try {
    decryptValue(key, sample.blob, sample.aad);
    return true;
  } catch {
    return false;
  }
}

function stale(): RuntimeError {
  return new RuntimeError('the master key was rotated by another process and the new key is not available to this one: restart it with the new key');
}
