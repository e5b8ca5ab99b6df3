import type { Db } from '../store/database.js';
import { CHAINED_COLUMNS, chainAnchor, chainCanonical, chainGateways } from './chain.js';
import { chainOfHead, ChainWalk, combineReports, judgeHead, type ChainReport, type LogVerifyReport, type RecordedHead } from './verify-walk.js';

export type { ChainProblem, ChainReport, LogVerifyReport, RecordedHead } from './verify-walk.js';

// id, hash, gateway, then the chained columns in their order (raw rows: arrays, not objects).
type Row = [number, string, string, ...unknown[]];

/** `log verify` of one gateway's chain (verify-walk.ts), from its anchor in position order. */
export function verifyChain(db: Db, gateway: string): ChainReport {
  const walk = new ChainWalk(gateway, chainAnchor(db, gateway));
  const rows = db
    .prepare(`SELECT id, hash, gateway, ${CHAINED_COLUMNS.join(', ')} FROM network_log WHERE gateway = ? AND chain_seq > ? ORDER BY chain_seq`)
    .raw()
    .iterate(gateway, walk.anchor.seq) as IterableIterator<Row>;
  for (const raw of rows) {
    const values = raw.slice(3);
    walk.push({ id: raw[0], hash: raw[1], seq: Number(values[0]), requestId: String(values[1]), canonical: chainCanonical(values, raw[2]) });
  }
  return walk.report();
}

/** `log verify`: every gateway's chain, and the rows outside all of them. */
export function verifyLog(db: Db): LogVerifyReport {
  const chains = chainGateways(db).map((g) => verifyChain(db, g));
  const unsealed = (db.prepare('SELECT COUNT(*) AS n FROM network_log WHERE chain_seq IS NULL').get() as { n: number }).n;
  return combineReports(chains, unsealed);
}

/**
 * Checks a head recorded earlier (`log verify` printed it) against the chain it names. Undefined
 * when it holds; otherwise what is wrong, in one sentence.
 */
export function checkRecordedHead(db: Db, head: RecordedHead, report: LogVerifyReport): string | undefined {
  const { chain, problem } = chainOfHead(head, report);
  if (chain === undefined) return problem;
  const row = db.prepare('SELECT hash FROM network_log WHERE gateway = ? AND chain_seq = ?').get(chain.gateway, head.seq) as { hash: string } | undefined;
  // Pruned since: the anchor of the pruning that ended exactly there, if any, still names it.
  const cut =
    row === undefined
      ? (db.prepare('SELECT hash FROM network_log_anchor WHERE gateway = ? AND upto_seq = ? ORDER BY id DESC LIMIT 1').get(chain.gateway, head.seq) as
          | { hash: string }
          | undefined)
      : undefined;
  return judgeHead(head, chain, row?.hash, cut?.hash);
}
