import type { Db } from '../store/database.js';

export interface RetentionPolicy {
  /** Rows kept at most; the oldest go first. */
  maxRows: number;
  /** Rows older than this are deleted. */
  maxAgeMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { maxRows: 2_000_000, maxAgeMs: 30 * 24 * 3600 * 1000 };

/**
 * Bounds the network log, so that a sandbox flooding the gateway with refused requests fills a
 * known amount of disk rather than all of it. Returns the number of rows deleted.
 */
export function createLogPruner(db: Db, policy: RetentionPolicy, clock: () => number = Date.now): () => number {
  const byAge = db.prepare('DELETE FROM network_log WHERE at < ?');
  const byCount = db.prepare('DELETE FROM network_log WHERE id <= (SELECT MAX(id) FROM network_log) - ?');
  return () => byAge.run(clock() - policy.maxAgeMs).changes + byCount.run(policy.maxRows).changes;
}
