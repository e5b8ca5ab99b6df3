import type { Logger } from '../logging/logger.js';
import type { NetLogReader } from '../netlog/backend.js';
import type { Db } from '../store/database.js';
import type { ApiKeyStore, AsyncStore } from '../store/store-api.js';
import type { Metrics } from './metrics.js';

/** Everything the control API works with, passed in explicitly (no module state). */
export interface ControlDeps {
  store: AsyncStore;
  /** The home's SQLite database (readiness on SQLite). */
  db: Db;
  /** The network log the routes read (the home's SQLite, or the fleet's PostgreSQL). */
  netlog: NetLogReader;
  apiKeys: ApiKeyStore;
  /**
   * Whether the store can be relied on now, for /readyz (a gateway on PostgreSQL answers from its
   * snapshot's state, without waiting on the database); default: the store answers a ping.
   */
  storeHealth?: () => Promise<StoreHealth>;
  metrics: Metrics;
  logger: Logger;
  /** HOST:PORT that sandboxes reach the proxy at; undefined until the proxy listens. */
  proxyAddress(): string | undefined;
  /** Path of the CA bundle (system roots + standin CA) written into the CA trust variables. */
  caBundlePath: string;
  caCertPem: string;
  /** The bundle's PEM text, for sidecars that copy it into a sandbox. */
  caBundlePem(): string;
  /** False before the proxy listens and once shutdown has begun. */
  ready(): boolean;
  clock?: () => number;
}

export interface StoreHealth {
  database: boolean;
  /** Seconds since the request path's snapshot was last confirmed current (PostgreSQL only). */
  snapshotAgeSeconds?: number;
  /** Past the fail-closed bound: swaps are refused until the database is back. */
  stale?: boolean;
}
