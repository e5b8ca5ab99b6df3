// Placeholder so that other modules can import the signature; the lead fills this in.
import type { Logger } from './logging/logger.js';
import type { Store } from './store/types.js';
import type { NetLogWriter } from './netlog/types.js';
import type { CertificateAuthority } from './ca/types.js';
import type { AllowDest } from './policy/types.js';

export interface GatewayOptions {
  listen: { host: string; port: number };
  store: Store;
  netlog: NetLogWriter;
  ca: CertificateAuthority;
  /** Extra PEM certificates trusted for upstream TLS, on top of the system roots. */
  upstreamCa: string[];
  resolve: ReadonlyMap<string, string>;
  allowDest: readonly AllowDest[];
  logger: Logger;
  clock?: () => number;
}

export interface Gateway {
  readonly address: { host: string; port: number };
  /** Stops accepting, waits briefly for open exchanges, flushes the network log. */
  close(): Promise<void>;
}

export async function startGateway(_options: GatewayOptions): Promise<Gateway> {
  throw new Error('not implemented yet');
}
