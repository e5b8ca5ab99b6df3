import type { SecretValue } from '../secret-value.js';

/**
 * Decrypted values by secret id and version. A version's value never changes (rotation adds a
 * version), so entries never go stale: a deleted secret or binding is caught earlier, when its
 * token no longer resolves. Bounded, least recently used first out.
 */
export class SecretValueCache {
  private readonly entries = new Map<string, SecretValue>();

  constructor(private readonly max: number, private readonly load: (secretId: string, version: number) => SecretValue) {}

  get(secretId: string, version: number): SecretValue {
    const key = `${secretId}\u0000${version}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const value = this.load(secretId, version);
    this.entries.set(key, value);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return value;
  }

  size(): number {
    return this.entries.size;
  }
}
