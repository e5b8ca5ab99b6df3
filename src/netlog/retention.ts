import type { Db } from '../store/database.js';
import { chainAnchor } from './chain.js';

export interface RetentionPolicy {
  /** Rows kept at most; the oldest go first. */
  maxRows: number;
  /** Rows older than this are deleted. */
  maxAgeMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { maxRows: 2_000_000, maxAgeMs: 30 * 24 * 3600 * 1000 };

/** Rows deleted per transaction: a few milliseconds of write lock, then the proxy runs again. */
export const PRUNE_CHUNK = 2_000;

/**
 * Bounds the network log, so that a sandbox flooding the gateway with refused requests fills a
 * known amount of disk rather than all of it. Each call deletes one chunk and says whether more is
 * due (the writer calls again on a later turn of the event loop).
 *
 * Chained rows go as a prefix of the chain, never from its middle: the oldest positions, while
 * they are older than the age bound or beyond the count bound. The hash of the last deleted row
 * is kept as an anchor (network_log_anchor), and verification starts there, so what remains
 * still verifies. Rows outside the chain (never completed, or older than it) go by age and id.
 */
export function createLogPruner(db: Db, policy: RetentionPolicy, clock: () => number = Date.now, chunk: number = PRUNE_CHUNK): () => boolean {
  const maxSeq = db.prepare('SELECT MAX(chain_seq) AS m FROM network_log WHERE chain_seq IS NOT NULL');
  const chained = db.prepare('SELECT chain_seq AS seq, at, hash FROM network_log WHERE chain_seq > ? ORDER BY chain_seq LIMIT ?');
  const deleteChained = db.prepare('DELETE FROM network_log WHERE chain_seq > ? AND chain_seq <= ?');
  const anchor = db.prepare('INSERT INTO network_log_anchor (at, upto_seq, hash, rows) VALUES (?, ?, ?, ?)');
  const countAll = db.prepare('SELECT COUNT(*) AS n FROM network_log');
  const countLoose = db.prepare('SELECT COUNT(*) AS n FROM network_log WHERE chain_seq IS NULL');
  const deleteLooseByAge = db.prepare('DELETE FROM network_log WHERE id IN (SELECT id FROM network_log WHERE chain_seq IS NULL AND at < ? ORDER BY id LIMIT ?)');
  const deleteLooseOldest = db.prepare('DELETE FROM network_log WHERE id IN (SELECT id FROM network_log WHERE chain_seq IS NULL ORDER BY id LIMIT ?)');

  return db.transaction((): boolean => {
    const now = clock();
    const cutoff = now - policy.maxAgeMs;
    const start = chainAnchor(db).seq;
    const last = (maxSeq.get() as { m: number | null }).m ?? start;
    // Over the count bound: chained rows first (the oldest positions); then rows outside the chain.
    let excess = Math.max(0, (countAll.get() as { n: number }).n - policy.maxRows);
    let upto = start;
    let hash = '';
    let taken = 0;
    // Stops at the first position to keep: usually the first one read.
    for (const r of chained.iterate(start, chunk) as IterableIterator<{ seq: number; at: number; hash: string }>) {
      if (!(excess > 0 || r.at < cutoff) || r.seq > last) break;
      taken++;
      upto = r.seq;
      hash = r.hash;
      if (excess > 0) excess--;
    }
    let deleted = 0;
    if (upto > start) {
      deleted = deleteChained.run(start, upto).changes;
      anchor.run(now, upto, hash, deleted);
    }
    let loose = deleteLooseByAge.run(cutoff, chunk).changes;
    // Rows outside the chain go by count only once the chain has nothing older to give.
    if (excess > 0 && taken < chunk) {
      loose += deleteLooseOldest.run(Math.min(chunk, excess, (countLoose.get() as { n: number }).n)).changes;
    }
    return deleted + loose >= chunk;
  }) as () => boolean;
}
