import type { Db } from '../store/database.js';
import { canonical, CHAINED_COLUMNS, chainAnchor, rowHash } from './chain.js';

export interface ChainProblem {
  kind: 'changed' | 'removed';
  /** The chain position where it shows, and the row there (absent when the row is gone). */
  seq: number;
  id?: number;
  requestId?: string;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Rows that verified. */
  verified: number;
  /** Where verification started: 0, or the position retention last cut at. */
  anchor: number;
  head: { seq: number; hash: string };
  /** Rows outside the chain: not yet completed, or written before the chain existed. */
  unsealed: number;
  first?: ChainProblem;
  problems: number;
}

// id and hash, then the chained columns in their order (raw rows: arrays, not objects).
type Row = [number, string, ...unknown[]];

/**
 * `log verify`: walks the chain from its anchor in position order, recomputing each hash. A row
 * whose content (or position) changed no longer matches its hash; a missing position is a removed
 * row. After a problem the walk goes on from the stored hash, so one edit is reported once.
 */
export function verifyChain(db: Db): VerifyReport {
  const anchor = chainAnchor(db);
  let expected = anchor.seq + 1;
  let prev = anchor.hash;
  let verified = 0;
  let problems = 0;
  let first: ChainProblem | undefined;
  const note = (p: ChainProblem): void => {
    problems++;
    first ??= p;
  };
  const rows = db
    .prepare(
      `SELECT id, hash, ${CHAINED_COLUMNS.join(', ')} FROM network_log WHERE chain_seq > ? ORDER BY chain_seq`,
    )
    .raw()
    .iterate(anchor.seq) as IterableIterator<Row>;
  for (const raw of rows) {
    const values = raw.slice(2);
    const r = { id: raw[0], hash: raw[1], chain_seq: Number(values[0]), request_id: String(values[1]) };
    if (r.chain_seq !== expected) {
      note({
        kind: 'removed',
        seq: expected,
        message:
          r.chain_seq - expected === 1
            ? `the row at position ${expected} was removed (the next row present is ${r.chain_seq}, id ${r.id})`
            : `rows at positions ${expected}-${r.chain_seq - 1} were removed (the next row present is ${r.chain_seq}, id ${r.id})`,
      });
    }
    if (rowHash(prev, canonical(values)) === r.hash) {
      verified++;
    } else {
      note({
        kind: 'changed',
        seq: r.chain_seq,
        id: r.id,
        requestId: r.request_id,
        message: `row ${r.id} (request ${r.request_id}, position ${r.chain_seq}) does not match its hash: it was changed, or moved from another position`,
      });
    }
    prev = r.hash;
    expected = r.chain_seq + 1;
  }
  const unsealed = (db.prepare('SELECT COUNT(*) AS n FROM network_log WHERE chain_seq IS NULL').get() as { n: number }).n;
  const report: VerifyReport = { ok: problems === 0, verified, anchor: anchor.seq, head: { seq: expected - 1, hash: prev }, unsealed, problems };
  if (first !== undefined) report.first = first;
  return report;
}

/**
 * Checks a head recorded earlier (`log verify` printed it): the row at that position must still
 * carry that hash. Catches what the chain alone cannot: the newest rows cut off, or every hash
 * recomputed after an edit. Undefined when it holds; otherwise what is wrong, in one sentence.
 */
export function checkRecordedHead(db: Db, head: { seq: number; hash: string }, report: VerifyReport): string | undefined {
  const row = db.prepare('SELECT hash FROM network_log WHERE chain_seq = ?').get(head.seq) as { hash: string } | undefined;
  if (row !== undefined) {
    return row.hash === head.hash ? undefined : `the row at position ${head.seq} no longer has the recorded hash: the log was rewritten from there or before`;
  }
  if (head.seq > report.head.seq) return `the chain ends at position ${report.head.seq}, before the recorded head ${head.seq}: the newest rows were removed`;
  // Pruned since: the anchor of the pruning that ended exactly there, if any, still names it.
  const cut = db.prepare('SELECT hash FROM network_log_anchor WHERE upto_seq = ? ORDER BY id DESC LIMIT 1').get(head.seq) as { hash: string } | undefined;
  if (cut !== undefined && cut.hash !== head.hash) return `position ${head.seq} was pruned with another hash than the recorded one: the log was rewritten`;
  return undefined;
}
