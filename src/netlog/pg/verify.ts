import type { Pool } from 'pg';
import { CHAINED_COLUMNS, chainCanonical, GENESIS_HASH, type ChainHead } from '../chain.js';
import { chainOfHead, ChainWalk, combineReports, judgeHead, type ChainReport, type LogVerifyReport, type RecordedHead } from '../verify-walk.js';

const PAGE = 5_000;
// The chained columns stored as integers (bigint arrives as text): hashed as numbers.
const NUMERIC = new Set<string>(['chain_seq', 'at', 'port', 'status', 'bytes_in', 'bytes_out', 'duration_ms']);

async function anchorOf(pool: Pool, gateway: string): Promise<ChainHead> {
  const r = await pool.query<{ seq: string; hash: string }>('SELECT upto_seq AS seq, hash FROM network_log_anchor WHERE gateway = $1 ORDER BY id DESC LIMIT 1', [gateway]);
  const a = r.rows[0];
  return a === undefined ? { seq: 0, hash: GENESIS_HASH } : { seq: Number(a.seq), hash: a.hash };
}

/**
 * One gateway's chain, walked in pages by position. The head its writer recorded (network_log_heads,
 * read before the walk, so every row up to it was committed) must be reached: a chain that ends
 * before it lost its newest rows — which SQLite can only tell against a head kept elsewhere.
 */
export async function pgVerifyChain(pool: Pool, gateway: string): Promise<ChainReport> {
  const recorded = (await pool.query<{ seq: string }>('SELECT seq FROM network_log_heads WHERE gateway = $1', [gateway])).rows[0];
  const walk = new ChainWalk(gateway, await anchorOf(pool, gateway));
  let after = walk.anchor.seq;
  for (;;) {
    const page = await pool.query<Record<string, unknown>>({
      text: `SELECT id, hash, ${CHAINED_COLUMNS.join(', ')} FROM network_log WHERE gateway = $1 AND chain_seq > $2 ORDER BY chain_seq LIMIT ${PAGE}`,
      values: [gateway, after],
    });
    for (const r of page.rows) {
      const values = CHAINED_COLUMNS.map((c) => {
        const v = r[c];
        return v !== null && NUMERIC.has(c) ? Number(v) : (v ?? null);
      });
      const seq = Number(r['chain_seq']);
      walk.push({ id: Number(r['id']), hash: String(r['hash']), seq, requestId: String(r['request_id']), canonical: chainCanonical(values, gateway) });
      after = seq;
    }
    if (page.rows.length < PAGE) break;
  }
  const report = walk.report();
  const head = Number(recorded?.seq ?? 0);
  if (head > report.head.seq && head > report.anchor) {
    const message = `the chain of gateway ${gateway} ends at position ${report.head.seq}, before its writer's head ${head}: the newest rows were removed`;
    const problem = { kind: 'removed' as const, gateway, seq: report.head.seq + 1, message };
    return { ...report, ok: false, problems: report.problems + 1, first: report.first ?? problem };
  }
  return report;
}

export async function pgVerifyLog(pool: Pool): Promise<LogVerifyReport> {
  const gateways = (
    await pool.query<{ gateway: string }>('SELECT gateway FROM network_log_heads UNION SELECT gateway FROM network_log_anchor ORDER BY gateway')
  ).rows.map((r) => r.gateway);
  const chains: ChainReport[] = [];
  for (const g of gateways) chains.push(await pgVerifyChain(pool, g));
  const unsealed = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM network_log WHERE chain_seq IS NULL')).rows[0]?.n ?? 0);
  return combineReports(chains, unsealed);
}

export async function pgCheckRecordedHead(pool: Pool, head: RecordedHead, report: LogVerifyReport): Promise<string | undefined> {
  const { chain, problem } = chainOfHead(head, report);
  if (chain === undefined) return problem;
  const row = (await pool.query<{ hash: string }>('SELECT hash FROM network_log WHERE gateway = $1 AND chain_seq = $2 LIMIT 1', [chain.gateway, head.seq])).rows[0];
  const cut =
    row === undefined
      ? (await pool.query<{ hash: string }>('SELECT hash FROM network_log_anchor WHERE gateway = $1 AND upto_seq = $2 ORDER BY id DESC LIMIT 1', [chain.gateway, head.seq]))
          .rows[0]
      : undefined;
  return judgeHead(head, chain, row?.hash, cut?.hash);
}
