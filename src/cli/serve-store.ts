import type { StoreHealth } from '../control/deps.js';
import type { GatewayStore } from '../gateway.js';
import type { DatabaseChoice } from '../store/database-url.js';
import { PgSnapshot } from '../store/pg/snapshot.js';
import { PgStore } from '../store/pg/pg-store.js';
import { SqliteAsyncStore } from '../store/sqlite-async-store.js';
import type { AsyncStore } from '../store/store-api.js';

/**
 * What `serve` reads on the request path, by backend: on SQLite the store itself (each read a
 * few microseconds, memoised per data_version); on PostgreSQL a snapshot in memory, kept fresh
 * by LISTEN/NOTIFY and a catch-up poll, refusing swaps once unconfirmed past `staleMs`.
 */
export interface ServeStore {
  lookups: GatewayStore;
  health(): Promise<StoreHealth>;
  /** Seconds since the snapshot was last confirmed (0 on SQLite: every read is the file). */
  snapshotAgeSeconds(): number;
  close(): Promise<void>;
}

export async function openServeStore(store: AsyncStore, choice: DatabaseChoice, options: { staleMs?: number; onProblem: (message: string) => void }): Promise<ServeStore> {
  if (store instanceof SqliteAsyncStore) {
    const sync = store.sync;
    return {
      lookups: sync,
      health: async () => {
        try {
          await store.ping();
          return { database: true };
        } catch {
          return { database: false };
        }
      },
      snapshotAgeSeconds: () => 0,
      close: async () => undefined,
    };
  }
  if (!(store instanceof PgStore) || choice.kind !== 'postgres') throw new Error('unknown store backend');
  const snap = await PgSnapshot.start(store.db, choice.url, store.keys, {
    ...(options.staleMs !== undefined ? { staleMs: options.staleMs } : {}),
    onProblem: options.onProblem,
  });
  const lookups: GatewayStore = {
    authenticateSandbox: (name, key) => snap.authenticateSandbox(name, key),
    getSandboxById: (id) => snap.getSandboxById(id),
    resolveToken: (token) => snap.resolveToken(token),
    tokensOfSandbox: (id) => snap.tokensOfSandbox(id),
    unboundSecrets: (id) => snap.unboundSecrets(id),
    secretValue: (id, version) => snap.secretValue(id, version),
    rotateSecretIfCurrent: (id, environment, from, value, actor, reason) => store.rotateSecretIfCurrent(id, environment, from, value, actor, reason),
  };
  return {
    lookups,
    // From the snapshot's own state: /readyz never waits on an unreachable database.
    health: async () => ({ database: snap.reachable(), snapshotAgeSeconds: Math.floor(snap.ageMs() / 1000), stale: snap.stale() }),
    snapshotAgeSeconds: () => snap.ageMs() / 1000,
    close: () => snap.close(),
  };
}
