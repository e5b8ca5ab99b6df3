import { createSecureContext, type SecureContext } from 'node:tls';
import type { CertificateAuthority, LeafContextCache } from './types.js';

interface Leaf {
  context: SecureContext;
  mintedAt: number;
  notAfter: number;
}

interface Entry {
  /** The leaf being served, once minted. */
  leaf?: Leaf;
  /** A mint in flight: the first one, or a renewal. Shared by every handshake that waits for it. */
  pending?: Promise<Leaf>;
}

/**
 * TLS server contexts for intercepted hosts, one per host, bounded. A Map keeps insertion order,
 * so re-inserting on every hit makes its first key the least recently used: an LRU without a
 * linked list. Mints are single-flight (concurrent handshakes for a new host share one), and a
 * mint that fails is forgotten so the next handshake tries again.
 *
 * Leaves expire (30 days): a busy host's leaf would otherwise be served past its notAfter by a
 * gateway that runs for weeks. Once two thirds of a leaf's life have passed, the next handshake
 * starts a new mint and keeps the old leaf until it is ready; an expired leaf is never served.
 */
export function createLeafContextCache(ca: CertificateAuthority, options: { max: number; clock?: () => number }): LeafContextCache {
  const max = Math.max(1, Math.floor(options.max));
  const clock = options.clock ?? Date.now;
  const entries = new Map<string, Entry>();

  const mint = async (host: string): Promise<Leaf> => {
    const mintedAt = clock();
    const { certPem, keyPem, notAfter } = await ca.mintLeaf(host, mintedAt);
    // The leaf alone: the CA is the sandbox's trust anchor, sending it would only add bytes.
    return { context: createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' }), mintedAt, notAfter };
  };

  const start = (key: string, entry: Entry): Promise<Leaf> => {
    const pending = mint(key);
    entry.pending = pending;
    pending.then(
      (leaf) => {
        if (entry.pending !== pending) return;
        entry.leaf = leaf;
        entry.pending = undefined;
      },
      () => {
        if (entry.pending !== pending) return;
        entry.pending = undefined;
        // Only forget this attempt: a newer entry for the host may already have replaced it.
        if (entry.leaf === undefined && entries.get(key) === entry) entries.delete(key);
      },
    );
    return pending;
  };

  return {
    get(host: string): Promise<SecureContext> {
      const key = host.toLowerCase();
      const now = clock();
      let entry = entries.get(key);
      if (entry) {
        entries.delete(key);
        entries.set(key, entry);
      } else {
        entry = {};
        entries.set(key, entry);
        while (entries.size > max) {
          const oldest = entries.keys().next();
          if (oldest.done) break;
          entries.delete(oldest.value);
        }
      }
      const { leaf } = entry;
      if (leaf !== undefined && now < renewAt(leaf)) return Promise.resolve(leaf.context);
      const next = entry.pending ?? start(key, entry);
      // Renewing: the current leaf is still good until its notAfter (with a minute to spare).
      if (leaf !== undefined && now < leaf.notAfter - 60_000) return Promise.resolve(leaf.context);
      return next.then((l) => l.context);
    },
    size(): number {
      return entries.size;
    },
    expiryOf(host: string): number | undefined {
      return entries.get(host.toLowerCase())?.leaf?.notAfter;
    },
  };
}

function renewAt(leaf: Leaf): number {
  return leaf.mintedAt + ((leaf.notAfter - leaf.mintedAt) * 2) / 3;
}
