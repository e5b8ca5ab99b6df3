import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { decryptValue, encryptValue, sandboxAad, secretAad } from '../../src/store/crypto.js';

const key = randomBytes(32);

describe('store crypto (AES-256-GCM)', () => {
  it('round-trips any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.string(), (plain, aad) => {
        expect(decryptValue(key, encryptValue(key, plain, aad), aad)).toBe(plain);
      }),
    );
  });

  it('lays a blob out as nonce | ciphertext | tag and never contains the plaintext', () => {
    const plain = 'sk-live-0123456789abcdef';
    const blob = encryptValue(key, plain, secretAad('sec_1', 1));
    expect(blob.length).toBe(12 + Buffer.byteLength(plain) + 16);
    expect(blob.includes(Buffer.from(plain))).toBe(false);
  });

  it('uses a fresh nonce each time', () => {
    const a = encryptValue(key, 'same', 'aad');
    const b = encryptValue(key, 'same', 'aad');
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(0, 12).equals(b.subarray(0, 12))).toBe(false);
  });

  it('refuses a blob under different associated data (another secret or version)', () => {
    const blob = encryptValue(key, 'value', secretAad('sec_a', 1));
    expect(() => decryptValue(key, blob, secretAad('sec_b', 1))).toThrow(RuntimeError);
    expect(() => decryptValue(key, blob, secretAad('sec_a', 2))).toThrow(RuntimeError);
    expect(() => decryptValue(key, blob, sandboxAad('sec_a'))).toThrow(RuntimeError);
  });

  it('fails cleanly with the wrong key', () => {
    const blob = encryptValue(key, 'value', 'x');
    expect(() => decryptValue(randomBytes(32), blob, 'x')).toThrow(
      'stored secret could not be decrypted (wrong master key?)',
    );
  });

  it('detects any flipped bit and truncated blobs', () => {
    const blob = encryptValue(key, 'value', 'x');
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i] = (bad[i] ?? 0) ^ 1;
      expect(() => decryptValue(key, bad, 'x')).toThrow(RuntimeError);
    }
    expect(() => decryptValue(key, blob.subarray(0, 20), 'x')).toThrow(RuntimeError);
    expect(() => decryptValue(key, Buffer.alloc(0), 'x')).toThrow(RuntimeError);
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => encryptValue(randomBytes(16), 'v', 'x')).toThrow(RuntimeError);
  });
});
