import { createSecureContext, type SecureContext } from 'node:tls';
import type { CertificateAuthority, LeafContextCache } from './types.js';

/**
 * TLS server contexts for intercepted hosts, one per host, bounded. A Map keeps insertion order,
 * so re-inserting on every hit makes its first key the least recently used: an LRU without a
 * linked list. Entries are promises, so concurrent handshakes for a new host share one mint
 * (single-flight); a mint that fails is dropped so the next handshake tries again.
 */
export function createLeafContextCache(ca: CertificateAuthority, options: { max: number }): LeafContextCache {
  const max = Math.max(1, Math.floor(options.max));
  const entries = new Map<string, Promise<SecureContext>>();

  const mint = async (host: string): Promise<SecureContext> => {
    const { certPem, keyPem } = await ca.mintLeaf(host);
    // The leaf alone: the CA is the sandbox's trust anchor, sending it would only add bytes.
    return createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
  };

  return {
    get(host: string): Promise<SecureContext> {
      const key = host.toLowerCase();
      const hit = entries.get(key);
      if (hit) {
        entries.delete(key);
        entries.set(key, hit);
        return hit;
      }
      const pending = mint(key);
      entries.set(key, pending);
      pending.catch(() => {
        // Only forget this attempt: a newer entry for the host may already have replaced it.
        if (entries.get(key) === pending) entries.delete(key);
      });
      while (entries.size > max) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      return pending;
    },
    size(): number {
      return entries.size;
    },
  };
}
