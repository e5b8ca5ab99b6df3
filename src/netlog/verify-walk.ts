import { rowHash, type ChainHead } from './chain.js';

/**
 * The part of `log verify` that does not depend on where the log is kept: walking one gateway's
 * chain in position order (rows come from SQLite or PostgreSQL), and judging a recorded head.
 */

export interface ChainProblem {
  kind: 'changed' | 'removed';
  /** The gateway whose chain it is in. */
  gateway: string;
  /** The chain position where it shows, and the row there (absent when the row is gone). */
  seq: number;
  id?: number;
  requestId?: string;
  message: string;
}

/** One gateway's chain. */
export interface ChainReport {
  /** The gateway id ('' for rows written before rows carried one). */
  gateway: string;
  ok: boolean;
  verified: number;
  /** Where verification started: 0, or the position retention last cut at. */
  anchor: number;
  head: { seq: number; hash: string };
  problems: number;
  first?: ChainProblem;
}

/** Every chain of the log; the totals are over all of them. */
export interface LogVerifyReport {
  ok: boolean;
  verified: number;
  /** Rows outside every chain: not yet completed, or written before the chain existed. */
  unsealed: number;
  problems: number;
  first?: ChainProblem;
  chains: ChainReport[];
}

/** A head as an earlier verify printed it: `GATEWAY:SEQ:HASH` (or `SEQ:HASH` when there is one chain). */
export interface RecordedHead {
  gateway?: string;
  seq: number;
  hash: string;
}

/** One chained row as read back: its canonical text is rebuilt from the stored columns (chain.ts). */
export interface ChainedRow {
  id: number;
  requestId: string;
  seq: number;
  hash: string;
  canonical: string;
}

/**
 * Walks one chain from its anchor: a row whose content (or position) changed no longer matches
 * its hash; a missing position is a removed row. After a problem the walk goes on from the stored
 * hash, so one edit is reported once.
 */
export class ChainWalk {
  #expected: number;
  #prev: string;
  #verified = 0;
  #problems = 0;
  #first: ChainProblem | undefined;

  constructor(
    readonly gateway: string,
    readonly anchor: ChainHead,
  ) {
    this.#expected = anchor.seq + 1;
    this.#prev = anchor.hash;
  }

  push(r: ChainedRow): void {
    const where = this.gateway === '' ? '' : ` of gateway ${this.gateway}`;
    if (r.seq !== this.#expected) {
      const positions = r.seq - this.#expected === 1 ? `the row at position ${this.#expected}${where} was` : `rows at positions ${this.#expected}-${r.seq - 1}${where} were`;
      this.#note({ kind: 'removed', gateway: this.gateway, seq: this.#expected, message: `${positions} removed (the next row present is ${r.seq}, id ${r.id})` });
    }
    if (rowHash(this.#prev, r.canonical) === r.hash) {
      this.#verified++;
    } else {
      this.#note({
        kind: 'changed',
        gateway: this.gateway,
        seq: r.seq,
        id: r.id,
        requestId: r.requestId,
        message: `row ${r.id} (request ${r.requestId}, position ${r.seq}${where}) does not match its hash: it was changed, or moved from another position`,
      });
    }
    this.#prev = r.hash;
    this.#expected = r.seq + 1;
  }

  report(): ChainReport {
    const r: ChainReport = {
      gateway: this.gateway,
      ok: this.#problems === 0,
      verified: this.#verified,
      anchor: this.anchor.seq,
      head: { seq: this.#expected - 1, hash: this.#prev },
      problems: this.#problems,
    };
    if (this.#first !== undefined) r.first = this.#first;
    return r;
  }

  #note(p: ChainProblem): void {
    this.#problems++;
    this.#first ??= p;
  }
}

/** The totals over every chain. */
export function combineReports(chains: ChainReport[], unsealed: number): LogVerifyReport {
  const problems = chains.reduce((n, c) => n + c.problems, 0);
  const report: LogVerifyReport = { ok: problems === 0, verified: chains.reduce((n, c) => n + c.verified, 0), unsealed, problems, chains };
  const first = chains.find((c) => c.first !== undefined)?.first;
  if (first !== undefined) report.first = first;
  return report;
}

/** Which chain a recorded head names: its gateway, or the only chain there is. */
export function chainOfHead(head: RecordedHead, report: LogVerifyReport): { chain?: ChainReport; problem?: string } {
  if (head.gateway !== undefined) {
    const chain = report.chains.find((c) => c.gateway === head.gateway);
    return chain === undefined ? { problem: `no chain of gateway ${head.gateway} in the log: it was removed, or the gateway id is wrong` } : { chain };
  }
  if (report.chains.length === 1) return { chain: report.chains[0] as ChainReport };
  return { problem: 'the log has several chains (one per gateway): give the head as GATEWAY:SEQ:HASH as log verify printed it' };
}

/**
 * Judges a recorded head against what the log holds now: the row at that position must still
 * carry that hash. Catches what a chain alone cannot: the newest rows cut off, or every hash
 * recomputed after an edit. `stored` is the hash at that position now (undefined: no such row),
 * `cutHash` the hash of a retention cut that ended exactly there, if any.
 */
export function judgeHead(head: RecordedHead, chain: ChainReport, stored: string | undefined, cutHash: string | undefined): string | undefined {
  if (stored !== undefined) {
    return stored === head.hash ? undefined : `the row at position ${head.seq} no longer has the recorded hash: the log was rewritten from there or before`;
  }
  if (head.seq > chain.head.seq) return `the chain ends at position ${chain.head.seq}, before the recorded head ${head.seq}: the newest rows were removed`;
  if (cutHash !== undefined && cutHash !== head.hash) return `position ${head.seq} was pruned with another hash than the recorded one: the log was rewritten`;
  return undefined;
}
