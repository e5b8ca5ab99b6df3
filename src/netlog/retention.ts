import type { Db } from '../store/database.js';
import { chainAnchor, chainGateways } from './chain.js';

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
 * known amount of disk rather than all of it. Each call deletes one chunk (per chain) and says
 * whether more is due (the writer calls again on a later turn of the event loop).
 *
 * Chained rows go as a prefix of their gateway's chain, never from its middle: the oldest
 * positions, while they are older than the age bound or beyond the count bound (each chain its
 * share). The hash of the last deleted row is kept as an anchor of that
 * gateway (network_log_anchor), and verification starts there, so what remains still verifies.
 * Rows outside the chains (never completed, or older than them) go by age and id.
 */
export function createLogPruner(db: Db, policy: RetentionPolicy, clock: () => number = Date.now, chunk: number = PRUNE_CHUNK): () => boolean {
  const maxSeq = db.prepare('SELECT MAX(chain_seq) AS m FROM network_log WHERE gateway = ? AND chain_seq IS NOT NULL');
  const chained = db.prepare('SELECT chain_seq AS seq, at, hash FROM network_log WHERE gateway = ? AND chain_seq > ? ORDER BY chain_seq LIMIT ?');
  const deleteChained = db.prepare('DELETE FROM network_log WHERE gateway = ? AND chain_seq > ? AND chain_seq <= ?');
  const anchor = db.prepare('INSERT INTO network_log_anchor (gateway, at, upto_seq, hash, rows) VALUES (?, ?, ?, ?, ?)');
  const countAll = db.prepare('SELECT COUNT(*) AS n FROM network_log');
  const countLoose = db.prepare('SELECT COUNT(*) AS n FROM network_log WHERE chain_seq IS NULL');
  const deleteLooseByAge = db.prepare('DELETE FROM network_log WHERE id IN (SELECT id FROM network_log WHERE chain_seq IS NULL AND at < ? ORDER BY id LIMIT ?)');
  const deleteLooseOldest = db.prepare('DELETE FROM network_log WHERE id IN (SELECT id FROM network_log WHERE chain_seq IS NULL ORDER BY id LIMIT ?)');

  return db.transaction((): boolean => {
    const now = clock();
    const cutoff = now - policy.maxAgeMs;
    // Over the count bound: chained rows first (the oldest positions); then rows outside the chains.
    let excess = Math.max(0, (countAll.get() as { n: number }).n - policy.maxRows);
    let deletedAll = 0;
    let taken = 0;
    const chains = chainGateways(db)
      .map((gateway) => {
        const start = chainAnchor(db, gateway).seq;
        const first = chained.get(gateway, start, 1) as { at: number } | undefined;
        return { gateway, start, firstAt: first?.at };
      })
      .filter((c): c is { gateway: string; start: number; firstAt: number } => c.firstAt !== undefined)
      .sort((a, b) => a.firstAt - b.firstAt);
    for (const [i, { gateway, start }] of chains.entries()) {
      const last = (maxSeq.get(gateway) as { m: number | null }).m ?? start;
      // Each chain gives its share of the rows over the count bound, so no gateway's history goes first.
      let share = Math.ceil(excess / (chains.length - i));
      let upto = start;
      let hash = '';
      let n = 0;
      // Stops at the first position to keep: usually the first one read.
      for (const r of chained.iterate(gateway, start, chunk) as IterableIterator<{ seq: number; at: number; hash: string }>) {
        if (!(share > 0 || r.at < cutoff) || r.seq > last) break;
        n++;
        upto = r.seq;
        hash = r.hash;
        if (share > 0) share--;
        if (excess > 0) excess--;
      }
      taken += n;
      if (upto > start) {
        const deleted = deleteChained.run(gateway, start, upto).changes;
        anchor.run(gateway, now, upto, hash, deleted);
        deletedAll += deleted;
      }
    }
    let loose = deleteLooseByAge.run(cutoff, chunk).changes;
    // Rows outside the chains go by count only once the chains have nothing older to give.
    if (excess > 0 && taken < chunk) {
      loose += deleteLooseOldest.run(Math.min(chunk, excess, (countLoose.get() as { n: number }).n)).changes;
    }
    return deletedAll + loose >= chunk;
  }) as () => boolean;
}
