import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './client.js';
import { LOCK_APP, LOCK_PARTITIONS } from './schema.js';

/**
 * Daily partitions of `network_log` (UTC days of `at`, named network_log_pYYYYMMDD). Writers make
 * the partitions their rows need, and the next ones ahead, before they insert; retention drops
 * whole partitions (a DROP, not a DELETE of millions of rows), leaving an anchor per gateway so
 * what remains still verifies.
 */

export const DAY_MS = 24 * 3600 * 1000;
const NAME = /^network_log_p(\d{4})(\d{2})(\d{2})$/;

export function dayOf(at: number): number {
  return Math.floor(at / DAY_MS) * DAY_MS;
}

export function partitionName(day: number): string {
  const d = new Date(day);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `network_log_p${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`;
}

function dayOfName(name: string): number | undefined {
  const m = NAME.exec(name);
  return m === null ? undefined : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

/** Existing partitions, oldest first, with the day each starts. */
export async function listPartitions(db: Pool | PoolClient): Promise<{ name: string; day: number }[]> {
  const r = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'network_log'::regclass`,
  );
  return r.rows
    .map((row) => ({ name: row.name, day: dayOfName(row.name) }))
    .filter((p): p is { name: string; day: number } => p.day !== undefined)
    .sort((a, b) => a.day - b.day);
}

/**
 * Makes the partitions of these days that do not exist yet. Two gateways making the same one at
 * once would collide in the catalog (CREATE ... IF NOT EXISTS is not safe against a concurrent
 * create), so creation holds an advisory lock.
 */
export async function ensurePartitions(pool: Pool, days: Iterable<number>): Promise<void> {
  const wanted = [...new Set([...days].map(dayOf))];
  if (wanted.length === 0) return;
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_APP, LOCK_PARTITIONS]);
    const have = new Set((await listPartitions(client)).map((p) => p.day));
    for (const day of wanted) {
      if (have.has(day)) continue;
      // Names and bounds are computed from integers here, never from input text.
      await client.query(`CREATE TABLE ${partitionName(day)} PARTITION OF network_log FOR VALUES FROM (${day}) TO (${day + DAY_MS})`);
    }
  });
}

export interface DropReport {
  dropped: string[];
  rows: number;
}

/**
 * Retention: drops every partition whose whole day is older than `cutoff`. For each gateway with
 * chained rows in a dropped partition, an anchor records the highest position dropped and its hash;
 * verification of that chain starts there. Days go by start time and positions by completion, so
 * a kept row can sit below the anchor (it started on a later day but completed before a long
 * exchange of the dropped day did): such rows are no longer verified; every row above is.
 */
export async function dropPartitionsBefore(pool: Pool, cutoff: number, now: number = Date.now()): Promise<DropReport> {
  const report: DropReport = { dropped: [], rows: 0 };
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_APP, LOCK_PARTITIONS]);
    for (const p of await listPartitions(client)) {
      if (p.day + DAY_MS > cutoff) break;
      const tops = await client.query<{ gateway: string; seq: string; hash: string; rows: string }>(
        `SELECT DISTINCT ON (gateway) gateway, chain_seq AS seq, hash, count(*) OVER (PARTITION BY gateway) AS rows
         FROM ${p.name} WHERE chain_seq IS NOT NULL ORDER BY gateway, chain_seq DESC`,
      );
      for (const t of tops.rows) {
        // An anchor never moves back: an earlier drop may have cut further already.
        await client.query(
          `INSERT INTO network_log_anchor (gateway, at, upto_seq, hash, rows)
           SELECT $1, $2, $3, $4, $5
           WHERE $3 > COALESCE((SELECT upto_seq FROM network_log_anchor WHERE gateway = $1 ORDER BY id DESC LIMIT 1), 0)`,
          [t.gateway, now, t.seq, t.hash, t.rows],
        );
      }
      const n = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${p.name}`);
      report.rows += Number(n.rows[0]?.n ?? 0);
      await client.query(`DROP TABLE ${p.name}`);
      report.dropped.push(p.name);
    }
  });
  return report;
}
