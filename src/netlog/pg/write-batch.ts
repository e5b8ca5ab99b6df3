import type { Pool } from 'pg';
import { chainCanonical, CHAINED_PARAMS, GENESIS_HASH, rowHash } from '../chain.js';
import type { NetLogRow } from '../types.js';
import { toParams, type Params } from '../writer.js';
import { inTransaction } from './client.js';
import { DAY_MS, dayOf, ensurePartitions } from './partitions.js';

// The columns written, in the order of the unnest() arrays, with their array types.
const COLS: readonly (readonly [string, string, string])[] = [
  ['gateway', 'gateway', 'text'], ['request_id', 'requestId', 'text'], ['at', 'at', 'bigint'], ['tenant', 'tenant', 'text'],
  ['sandbox', 'sandbox', 'text'], ['method', 'method', 'text'], ['scheme', 'scheme', 'text'], ['host', 'host', 'text'],
  ['port', 'port', 'integer'], ['path', 'path', 'text'], ['status', 'status', 'integer'], ['decision', 'decision', 'text'],
  ['secrets', 'secrets', 'text'], ['bytes_in', 'bytesIn', 'bigint'], ['bytes_out', 'bytesOut', 'bigint'], ['duration_ms', 'durationMs', 'bigint'],
  ['upstream_ip', 'upstreamIp', 'text'], ['error_code', 'errorCode', 'text'], ['complete', 'complete', 'boolean'], ['detail', 'detail', 'text'],
  ['chain_seq', 'chainSeq', 'bigint'], ['hash', 'hash', 'text'],
];

// One statement for any batch size: each column is one array parameter, and the gateway's head
// moves in the same statement (a data-modifying CTE runs whether or not it is read). A row already
// sealed is never written again (the WHERE); the count of rows written tells whether one was.
const N = COLS.length;
const INSERT = `WITH ins AS (
  INSERT INTO network_log (${COLS.map((c) => c[0]).join(', ')})
  SELECT * FROM unnest(${COLS.map((c, i) => `$${i + 1}::${c[2]}[]`).join(', ')})
  ON CONFLICT (request_id, at) DO UPDATE SET
  ${COLS.filter((c) => c[0] !== 'request_id' && c[0] !== 'at').map((c) => `${c[0]} = excluded.${c[0]}`).join(', ')}
  WHERE network_log.complete = false
  RETURNING 1
), head AS (
  UPDATE network_log_heads SET seq = $${N + 2}, hash = $${N + 3} WHERE gateway = $${N + 1}
)
SELECT count(*)::int AS n FROM ins`;

/** A batch held a row already sealed, which the chain had counted: written again with the check. */
class SealedRowInBatch extends Error {}

/** Days whose partition this writer knows to exist; forgotten when an insert finds one missing. */
export type KnownDays = Set<number>;

/**
 * Writes one batch in one transaction: locks this gateway's chain head (its own row of
 * network_log_heads: other gateways' writers never wait on it), seals the completed rows into the
 * gateway's chain and upserts everything with one INSERT ... SELECT FROM unnest(...), which also
 * moves the head. Rows already sealed (a retried batch, a replayed spool: `mayRepeat`; a late copy
 * of a forwarded row) are looked up and skipped first — for a fresh batch only when the insert
 * shows one was there, so the usual batch costs four round trips. Returns the rows written.
 */
export async function writePgBatch(
  pool: Pool,
  gateway: string,
  batch: readonly NetLogRow[],
  known: KnownDays,
  now: number,
  options: { mayRepeat?: boolean } = {},
): Promise<number> {
  const rows = dedupe(batch);
  if (rows.length === 0) return 0;
  const days = new Set(rows.map((r) => dayOf(r.at)));
  const today = dayOf(now);
  // The next days too, so that midnight never waits on a CREATE TABLE.
  for (const d of [today, today + DAY_MS, today + 2 * DAY_MS]) days.add(d);
  const missing = [...days].filter((d) => !known.has(d));
  if (missing.length > 0) {
    await ensurePartitions(pool, missing);
    for (const d of missing) known.add(d);
  }
  const attempt = (checkSealed: boolean): Promise<number> =>
    inTransaction(pool, async (client) => {
      const params = rows.map((r) => pgParams(r, gateway));
      const head = await client.query<{ seq: string; hash: string }>(
        'INSERT INTO network_log_heads (gateway, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (gateway) DO UPDATE SET gateway = excluded.gateway RETURNING seq, hash',
        [gateway, GENESIS_HASH],
      );
      let seq = Number(head.rows[0]?.seq ?? 0);
      let hash = head.rows[0]?.hash ?? GENESIS_HASH;
      let write = params;
      if (checkSealed) {
        const ats = params.map((p) => Number(p.at));
        const sealed = await client.query<{ request_id: string }>(
          'SELECT request_id FROM network_log WHERE complete AND at >= $2 AND at <= $3 AND request_id = ANY($1::text[])',
          [params.map((p) => p.requestId), Math.min(...ats), Math.max(...ats)],
        );
        const done = new Set(sealed.rows.map((r) => r.request_id));
        write = params.filter((p) => !done.has(String(p.requestId)));
      }
      for (const p of write) {
        if (p.complete !== true) continue;
        seq++;
        p.chainSeq = seq;
        hash = rowHash(hash, chainCanonical(CHAINED_PARAMS.map((k) => p[k] ?? null), gateway));
        p.hash = hash;
      }
      const r = await client.query<{ n: number }>(INSERT, [...COLS.map(([, key]) => write.map((p) => p[key] ?? null)), gateway, seq, hash]);
      // Fewer rows written than sent: one was sealed already, and its position would be a gap.
      if ((r.rows[0]?.n ?? 0) !== write.length) throw new SealedRowInBatch('a row of the batch was already sealed');
      return write.length;
    });
  try {
    try {
      return await attempt(options.mayRepeat === true);
    } catch (e) {
      if (e instanceof SealedRowInBatch) return await attempt(true);
      throw e;
    }
  } catch (e) {
    // A partition dropped by retention since we saw it (23514: no partition for the row).
    if (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === '23514') known.clear();
    throw e;
  }
}

/** One row per request id: the completed one wins, else the last one. */
function dedupe(batch: readonly NetLogRow[]): NetLogRow[] {
  const byId = new Map<string, NetLogRow>();
  for (const r of batch) {
    const had = byId.get(r.requestId);
    if (had !== undefined && had.complete !== false && r.complete === false) continue;
    byId.set(r.requestId, r);
  }
  return [...byId.values()];
}

type PgParams = Record<string, string | number | boolean | null>;

/**
 * The values bound, and hashed: what PostgreSQL stores exactly as given. Text cannot hold NUL and
 * lone surrogates would be replaced on the way in, so both are made explicit first (the hash must
 * cover what is stored); byte counts are integers in a bigint column.
 */
function pgParams(row: NetLogRow, gateway: string): PgParams {
  const p: Params = toParams(row);
  const out: PgParams = {};
  for (const [k, v] of Object.entries(p)) out[k] = typeof v === 'string' ? storable(v) : v;
  out.gateway = gateway;
  out.bytesIn = Math.round(row.bytesIn);
  out.bytesOut = Math.round(row.bytesOut);
  out.complete = row.complete !== false;
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function storable(s: string): string {
  return s.replace(LONE_SURROGATE, '\uFFFD').replace(/\0/g, '\\u0000');
}
