import type { Logger } from '../logging/logger.js';
import type { ApiKeysRepo } from '../store/apikeys-repo.js';
import type { NetLogReader } from '../netlog/backend.js';
import type { Db } from '../store/database.js';
import type { Store } from '../store/types.js';
import type { Metrics } from './metrics.js';

/** Everything the control API works with, passed in explicitly (no module state). */
export interface ControlDeps {
  store: Store;
  /** The same connection as the store: network-log queries and readiness checks. */
  db: Db;
  /** The network log the routes read (the home's SQLite, or the fleet's PostgreSQL). */
  netlog: NetLogReader;
  apiKeys: ApiKeysRepo;
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
