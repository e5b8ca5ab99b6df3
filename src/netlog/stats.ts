import type { Db } from '../store/database.js';
import { netLogFilter } from './filters.js';
import type { NetLogQuery } from './types.js';

export interface CountRow {
  key: string;
  requests: number;
  bytesIn: number;
  bytesOut: number;
}

export interface NetLogStats {
  total: { requests: number; bytesIn: number; bytesOut: number; refused: number };
  bySandbox: CountRow[];
  byHost: CountRow[];
  byDecision: { key: string; requests: number }[];
  /** Refusals and failures by error code (the rule that refused: scope, placement, egress, ...). */
  refusals: { key: string; requests: number }[];
  /** Swaps per `secret@version`. */
  swaps: { key: string; requests: number }[];
}

const TOP = 50;

/** `log stats`: counts over the rows the filters select, each list largest first, at most 50. */
export function netLogStats(db: Db, q: NetLogQuery): NetLogStats {
  const { where, params } = netLogFilter({ ...q, afterId: undefined });
  const and = where === '' ? 'WHERE' : `${where} AND`;
  const grouped = (column: string): CountRow[] =>
    (
      db
        .prepare(
          `SELECT COALESCE(${column}, '-') AS key, COUNT(*) AS requests, SUM(bytes_in) AS bytesIn, SUM(bytes_out) AS bytesOut
           FROM network_log ${where} GROUP BY ${column} ORDER BY requests DESC, key LIMIT ${TOP}`,
        )
        .all(params) as CountRow[]
    ).map((r) => ({ ...r, key: r.key === '' ? '-' : r.key }));
  const counted = (sql: string): { key: string; requests: number }[] => db.prepare(sql).all(params) as { key: string; requests: number }[];
  const total = db
    .prepare(
      `SELECT COUNT(*) AS requests, COALESCE(SUM(bytes_in), 0) AS bytesIn, COALESCE(SUM(bytes_out), 0) AS bytesOut,
       COALESCE(SUM(decision IN ('denied', 'token_misuse', 'error')), 0) AS refused FROM network_log ${where}`,
    )
    .get(params) as NetLogStats['total'];
  return {
    total,
    bySandbox: grouped('sandbox'),
    byHost: grouped('host'),
    byDecision: counted(`SELECT decision AS key, COUNT(*) AS requests FROM network_log ${where} GROUP BY decision ORDER BY requests DESC, key`),
    refusals: counted(
      `SELECT error_code AS key, COUNT(*) AS requests FROM network_log ${and} error_code IS NOT NULL GROUP BY error_code ORDER BY requests DESC, key LIMIT ${TOP}`,
    ),
    swaps: counted(
      `SELECT j.value AS key, COUNT(*) AS requests FROM network_log, json_each(network_log.secrets) AS j ${and} decision = 'swapped'
       GROUP BY j.value ORDER BY requests DESC, key LIMIT ${TOP}`,
    ),
  };
}
