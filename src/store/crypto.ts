import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { RuntimeError } from '../errors.js';

/**
 * AES-256-GCM for values at rest. A blob is `nonce (12) | ciphertext | tag (16)`, self-contained
 * so a row needs one column. The associated data names what the blob belongs to (a secret id and
 * version, or a sandbox id): a ciphertext copied to another row fails authentication instead of
 * silently decrypting as the wrong credential.
 */
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function encryptValue(key: Buffer, plaintext: string, aad: string): Buffer {
  checkKey(key);
  // Random 96-bit nonces: safe far beyond the number of values one home will ever encrypt.
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

export function decryptValue(key: Buffer, blob: Buffer, aad: string): string {
  checkKey(key);
  if (blob.length < NONCE_BYTES + TAG_BYTES) throw undecryptable();
  const nonce = blob.subarray(0, NONCE_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const body = blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    // OpenSSL's message ("Unsupported state or unable to authenticate data") helps nobody.
    throw undecryptable();
  }
}

/** Associated data for one version of a secret. */
export function secretAad(secretId: string, version: number): string {
  return `${secretId}:${version}`;
}

/** Associated data for a sandbox's stored proxy key. */
export function sandboxAad(sandboxId: string): string {
  return `sandbox:${sandboxId}`;
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new RuntimeError('master key must be 32 bytes');
}

function undecryptable(): RuntimeError {
  return new RuntimeError('stored secret could not be decrypted (wrong master key?)');
}
