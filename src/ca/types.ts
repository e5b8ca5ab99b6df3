import type { SecureContext } from 'node:tls';

/** The CA that signs the leaves presented to sandboxes. EC P-256, key 0600 in a 0700 directory. */
export interface CertificateAuthority {
  /** PEM of the CA certificate (what `standin ca export` prints and sandboxes trust). */
  readonly certPem: string;
  /** Mints a leaf for one host name or IP literal: SAN, AKI, EKU serverAuth, random positive serial, <= 45 days. */
  mintLeaf(host: string): Promise<{ certPem: string; keyPem: string }>;
}

/** In-memory cache of TLS server contexts by host, bounded (LRU), with single-flight minting. */
export interface LeafContextCache {
  get(host: string): Promise<SecureContext>;
  size(): number;
}
