import { createHash } from 'node:crypto';
import type { Db } from '../store/database.js';

/**
 * The tamper-evident chain of the network log. A row is written when a request is forwarded
 * (`complete = 0`) and completed in place when the exchange ends, so a row's content is only
 * final once it is complete: the chain covers completed rows only, in the order they were
 * completed (`chain_seq` 1, 2, 3, ...), each row's hash covering its position, every stored
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

export function rowHash(prev: string, canonical: string): string {
  return createHash('sha256').update(prev).update('\n').update(canonical).digest('hex');
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * The last sealed position: the newest chained row, else where retention last cut the chain,
 * else the genesis. Read inside the writer's transaction, so two writers never share a position.
 */
export function chainHead(db: Db): ChainHead {
  const row = db.prepare('SELECT chain_seq AS seq, hash FROM network_log WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1').get() as
    | { seq: number; hash: string }
    | undefined;
  return row ?? chainAnchor(db);
}

/** Where verification starts: the last retention cut, or the genesis. */
export function chainAnchor(db: Db): ChainHead {
  const anchor = db.prepare('SELECT upto_seq AS seq, hash FROM network_log_anchor ORDER BY id DESC LIMIT 1').get() as ChainHead | undefined;
  return anchor ?? { seq: 0, hash: GENESIS_HASH };
}
