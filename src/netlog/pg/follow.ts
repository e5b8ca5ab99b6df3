import type { Pool } from 'pg';
import type { NetLogFollower } from '../backend.js';
import type { NetLogQuery, StoredNetLogRow } from '../types.js';
import { pgQueryNetLog } from './query.js';

/**
 * Following the log by row id on PostgreSQL (`log --follow`, `GET /v1/log?afterId=`, the viewer's
 * live tail). Row ids come from a sequence when a row is inserted, not when its transaction
 * commits: gateway A's batch can take ids 100-110 and commit after gateway B's batch with 111-120,
 * so a follower that had read up to 120 would never show A's rows. Here a row is returned only
 * once every row with a smaller id is final.
 *
 * A mark, taken in one statement, is the largest id visible and the snapshot's xmax (the first
 * transaction id not yet assigned). A row with an id up to that largest one that is not visible
 * then belongs to a transaction already running then: its id was taken before the visible row's
 * (the sequence hands out increasing values in time; it has no per-session cache), and the
 * writer's transaction has a transaction id before it takes row ids (write-batch.ts updates its
 * chain head first). So once the oldest transaction still running (the current snapshot's xmin,
 * over the whole cluster) is past a mark's xmax, every id up to the mark's is final. A write
 * transaction that runs long delays followers; it never makes one skip a row.
 */
interface Mark {
  id: number;
  xmax: bigint;
  /** The oldest transaction still running when the mark was taken. */
  xmin: bigint;
}

async function takeMark(pool: Pool): Promise<Mark> {
  const m = (
    await pool.query<{ xmin: string; xmax: string; id: string | null }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, pg_snapshot_xmax(pg_current_snapshot())::text AS xmax, (SELECT max(id) FROM network_log) AS id',
    )
  ).rows[0];
  return { id: Number(m?.id ?? 0), xmax: BigInt(m?.xmax ?? 0), xmin: BigInt(m?.xmin ?? 0) };
}

// How long one stateless read waits for the transactions running at its mark (a batch commits in
// a few ms); past that it returns nothing new and the caller polls again.
const WAIT_MS = 250;
const WAIT_STEP_MS = 10;

/** The rows after `afterId` that are final now, in id order (the afterId listing, query.ts). */
export async function pgFinalRowsAfter(pool: Pool, q: NetLogQuery & { afterId: number }): Promise<StoredNetLogRow[]> {
  const mark = await takeMark(pool);
  if (mark.id <= q.afterId) return [];
  // Nothing was running: everything visible is final.
  for (let waited = 0, now = mark; now.xmin < mark.xmax; waited += WAIT_STEP_MS) {
    if (waited >= WAIT_MS) return [];
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    now = await takeMark(pool);
  }
  return pgQueryNetLog(pool, q, mark.id);
}

/** `log --follow`: marks kept between polls, so a busy fleet never makes a poll wait. */
export function pgFollowNetLog(pool: Pool, q: NetLogQuery, from: number): NetLogFollower {
  let afterId = from;
  let finalUpTo = from;
  const marks: Mark[] = [];
  return {
    async next() {
      const mark = await takeMark(pool);
      marks.push(mark);
      // Marks are in time order, so their xmax only grows: the ones passed are a prefix.
      while (marks[0] !== undefined && marks[0].xmax <= mark.xmin) finalUpTo = Math.max(finalUpTo, marks.shift()?.id ?? 0);
      if (finalUpTo <= afterId) return [];
      const limit = q.limit ?? 1_000;
      const rows = await pgQueryNetLog(pool, { ...q, afterId, limit }, finalUpTo);
      // Fewer than asked for: nothing else up to finalUpTo matches (rows past it wait for a mark).
      afterId = rows.length >= limit ? (rows.at(-1)?.id ?? afterId) : finalUpTo;
      return rows;
    },
  };
}
