import type { Pool } from 'pg';
import type { NetLogFollower } from '../backend.js';
import type { NetLogQuery } from '../types.js';
import { pgQueryNetLog } from './query.js';

/**
 * `log --follow` on PostgreSQL. Row ids come from a sequence when a row is inserted, not when its
 * transaction commits: gateway A's batch can take ids 100-110 and commit after gateway B's batch
 * with 111-120, so a follower that had read up to 120 would never show A's rows. This follower
 * returns a row only once every row with a smaller id is final.
 *
 * Each `next()` takes a mark in one statement: the largest id visible, and the snapshot's xmax
 * (the first transaction id not yet assigned). A row with an id up to that largest one that is not
 * visible then belongs to a transaction already in progress then: its id was taken before the
 * visible row's (the sequence hands out increasing values in time; it has no per-session cache),
 * and the writer's transaction has a transaction id before it takes row ids (write-batch.ts
 * updates its chain head first). So once the oldest transaction still running (the current
 * snapshot's xmin) is past a mark's xmax, every id up to the mark's is final. A write
 * transaction that runs long delays the follower; it never makes it skip a row.
 */
export function pgFollowNetLog(pool: Pool, q: NetLogQuery, from: number): NetLogFollower {
  let afterId = from;
  let finalUpTo = from;
  const marks: { id: number; xmax: bigint }[] = [];
  return {
    async next() {
      const m = (
        await pool.query<{ xmin: string; xmax: string; id: string | null }>(
          'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, pg_snapshot_xmax(pg_current_snapshot())::text AS xmax, (SELECT max(id) FROM network_log) AS id',
        )
      ).rows[0];
      if (m === undefined) return [];
      marks.push({ id: Number(m.id ?? 0), xmax: BigInt(m.xmax) });
      const xmin = BigInt(m.xmin);
      // Marks are in time order, so their xmax only grows: the ones passed are a prefix.
      while (marks[0] !== undefined && marks[0].xmax <= xmin) finalUpTo = Math.max(finalUpTo, marks.shift()?.id ?? 0);
      if (finalUpTo <= afterId) return [];
      const limit = q.limit ?? 1_000;
      const rows = (await pgQueryNetLog(pool, { ...q, afterId, limit })).filter((r) => r.id <= finalUpTo);
      // Fewer than asked for: nothing else up to finalUpTo matches (rows past it wait for a mark).
      afterId = rows.length >= limit ? (rows.at(-1)?.id ?? afterId) : finalUpTo;
      return rows;
    },
  };
}
