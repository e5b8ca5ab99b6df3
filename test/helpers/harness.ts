import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { loadOrCreateCa } from '../../src/ca/authority.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { queryNetLog } from '../../src/netlog/query.js';
import { createNetLogWriter } from '../../src/netlog/writer.js';
import type { NetLogQuery, NetLogWriter, StoredNetLogRow } from '../../src/netlog/types.js';
import { parseAllowDest } from '../../src/policy/address.js';
import type { ProxyLimits } from '../../src/proxy/deps.js';
import { openDatabase } from '../../src/store/database.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { TEST_CA, startUpstream, type Upstream } from './upstream.js';

export const UPSTREAM_HOSTS = ['api.standin.test', 'other.standin.test', 'evil.standin.test', 'elsewhere.standin.test'];

export interface Harness {
  home: string;
  store: SqliteStore;
  upstream: Upstream;
  gateway: Gateway;
  netlog: NetLogWriter;
  caPem: string;
  /** Everything the gateway's logger wrote. */
  logs(): string;
  /** `http://sandbox:key@127.0.0.1:port` for a sandbox. */
  proxyUrl(sandbox: string): string;
  rows(q?: NetLogQuery): StoredNetLogRow[];
  close(): Promise<void>;
}

/**
 * A real gateway in this process (real sockets, TLS, SQLite) in front of a real local HTTPS
 * upstream. `*.standin.test` names resolve to 127.0.0.1 through `--resolve`-style overrides and
 * 127.0.0.1 is the one private address let through, exactly as the CLI flags do it.
 */
export interface HarnessOptions {
  limits?: Partial<ProxyLimits>;
  /** Extra `--resolve` pins (name → IP). */
  resolve?: Record<string, string>;
  /** Trust the test CA for upstreams (default true). */
  trustTestCa?: boolean;
  /** More `--allow-dest` entries (a test's own upstream on loopback). */
  allowDest?: string[];
  /** How long unbound values are still scrubbed (the gateway's default when absent). */
  unboundScrubMs?: number;
  /** Offer HTTP/2 to sandboxes (default true). */
  http2?: boolean;
  /** The network-log writer (default: SQLite in the home); `rows()` reads SQLite only. */
  netlog?: NetLogWriter;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const home = mkdtempSync(join(tmpdir(), 'standin-it-'));
  const db = openDatabase(join(home, 'standin.db'));
  const store = new SqliteStore(db, randomBytes(32));
  const { ca } = await loadOrCreateCa(join(home, 'ca'));
  const upstream = await startUpstream();
  const netlog = options.netlog ?? createNetLogWriter(db, { intervalMs: 20 });
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const gateway = await startGateway({
    listen: { host: '127.0.0.1', port: 0 },
    store,
    netlog,
    ca,
    upstreamCa: options.trustTestCa === false ? [] : [readFileSync(TEST_CA, 'utf8')],
    resolve: new Map([...UPSTREAM_HOSTS.map((h): [string, string] => [h, '127.0.0.1']), ...Object.entries(options.resolve ?? {})]),
    allowDest: [parseAllowDest(`127.0.0.1:${upstream.port}`), ...(options.allowDest ?? []).map(parseAllowDest)],
    logger,
    limits: options.limits,
    unboundScrubMs: options.unboundScrubMs,
    http2: options.http2,
  });
  return {
    home,
    store,
    upstream,
    gateway,
    netlog,
    caPem: ca.certPem,
    logs: () => chunks.join(''),
    proxyUrl: (sandbox) => `http://${sandbox}:${store.proxyKey(sandbox)}@127.0.0.1:${gateway.address.port}`,
    rows: (q = {}) => {
      void netlog.flush();
      return queryNetLog(db, { limit: 1000, ...q });
    },
    close: async () => {
      await gateway.close();
      await upstream.close();
      await netlog.close();
      store.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
