import type { SecureContext } from 'node:tls';

/** The CA that signs the leaves presented to sandboxes. EC P-256, key 0600 in a 0700 directory. */
export interface CertificateAuthority {
  /** PEM of the CA certificate (what `standin ca export` prints and sandboxes trust). */
  readonly certPem: string;
  /**
   * Mints a leaf for one host name or IP literal: SAN, AKI, EKU serverAuth, random positive serial,
   * <= 45 days, valid from an hour before `now` (epoch ms; the clock's time by default).
   */
  mintLeaf(host: string, now?: number): Promise<{ certPem: string; keyPem: string; notAfter: number }>;
}

/** In-memory cache of TLS server contexts by host, bounded (LRU), single-flight, re-minted before expiry. */
export interface LeafContextCache {
  get(host: string): Promise<SecureContext>;
  size(): number;
  /** The notAfter (epoch ms) of the leaf served for `host` now; undefined when none is ready. */
  expiryOf(host: string): number | undefined;
}
