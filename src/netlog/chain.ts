import { createHash } from 'node:crypto';
import type { Db } from '../store/database.js';

/**
 * The tamper-evident chain of the network log. A row is written when a request is forwarded
 * (`complete = 0`) and completed in place when the exchange ends, so a row's content is only
 * final once it is complete: the chain covers completed rows only, in the order they were
 * completed (`chain_seq` 1, 2, 3, ... per gateway), each row's hash covering its position, every stored
 * column and the hash of the row before it. The writer seals a row in the same transaction that
 * completes it; a sealed row is never updated again.
 *
 * What it proves: a row changed, removed from the middle, or moved to another position no longer
 * matches (the first such row is reported). What it cannot prove on its own: that the newest rows
 * were not cut off, or that someone with write access did not recompute every hash after an edit;
 * `log verify` prints the head (position and hash) so that a copy kept elsewhere settles both.
 */

export const GENESIS_HASH = '0'.repeat(64);

// The columns a row's hash covers, in order. Their canonical text is the JSON array of their
// values: built by the writer from the values it binds, and by `log verify` from the columns as
// stored. The two agree because every value is an integer, null or a string SQLite stores as given:
// paths, names and hosts are ASCII by the time they are logged, and detail is JSON.stringify's
// own (well-formed) output.
export const CHAINED_COLUMNS = [
  'chain_seq', 'request_id', 'at', 'tenant', 'sandbox', 'method', 'scheme', 'host', 'port', 'path', 'status',
  'decision', 'secrets', 'bytes_in', 'bytes_out', 'duration_ms', 'upstream_ip', 'error_code', 'detail',
] as const;

/** The writer's parameter name of each chained column (`bytes_in` is `bytesIn`). */
export const CHAINED_PARAMS: readonly string[] = CHAINED_COLUMNS.map((c) => c.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase()));

export function canonical(values: readonly unknown[]): string {
  return JSON.stringify(values);
}

/**
 * The canonical text of a chained row: its CHAINED_COLUMNS values, then the gateway that wrote it,
 * so that a row cannot be moved to another gateway's chain unnoticed. Rows written before rows
 * carried a gateway (gateway '') keep the text they were hashed with.
 */
export function chainCanonical(values: readonly unknown[], gateway: string): string {
  return canonical(gateway === '' ? values : [...values, gateway]);
}

export function rowHash(prev: string, canonical: string): string {
  return createHash('sha256').update(prev).update('\n').update(canonical).digest('hex');
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * The last sealed position of a gateway's chain: its newest chained row, else where retention last
 * cut it, else the genesis. Each gateway has a chain of its own (positions 1, 2, 3, ... per
 * gateway id), so gateways writing one log never contend on one head. Read inside the writer's
 * transaction, so two writers never share a position.
 */
export function chainHead(db: Db, gateway: string): ChainHead {
  const row = db
    .prepare('SELECT chain_seq AS seq, hash FROM network_log WHERE gateway = ? AND chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1')
    .get(gateway) as { seq: number; hash: string } | undefined;
  return row ?? chainAnchor(db, gateway);
}

/** Where verification of a gateway's chain starts: the last retention cut, or the genesis. */
export function chainAnchor(db: Db, gateway: string): ChainHead {
  const anchor = db.prepare('SELECT upto_seq AS seq, hash FROM network_log_anchor WHERE gateway = ? ORDER BY id DESC LIMIT 1').get(gateway) as
    | ChainHead
    | undefined;
  return anchor ?? { seq: 0, hash: GENESIS_HASH };
}

// Every gateway with a chain (rows or a retention anchor), one index seek each rather than a scan
// of the whole chain index: SQLite has no skip scan of its own for this.
const GATEWAYS = `
WITH RECURSIVE g(x) AS (
  SELECT (SELECT MIN(gateway) FROM network_log WHERE chain_seq IS NOT NULL)
  UNION ALL
  SELECT (SELECT MIN(gateway) FROM network_log WHERE chain_seq IS NOT NULL AND gateway > x) FROM g WHERE x IS NOT NULL
)
SELECT x AS gateway FROM g WHERE x IS NOT NULL
UNION SELECT DISTINCT gateway FROM network_log_anchor ORDER BY gateway`;

/** The gateways whose chains the log holds. */
export function chainGateways(db: Db): string[] {
  return (db.prepare(GATEWAYS).all() as { gateway: string }[]).map((r) => r.gateway);
}
