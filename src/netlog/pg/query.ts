import type { Pool } from 'pg';
import type { Decision, GatewayErrorCode } from '../../errors.js';
import { clampLimit, parseDetail, parseSecrets } from '../query.js';
import type { CountRow, NetLogStats } from '../stats.js';
import type { NetLogQuery, NetLogRecord, StoredNetLogRow } from '../types.js';
import { pgNetLogFilter } from './filters.js';

// The columns of a listing (detail and hash only where they are shown). bigint comes back as text.
const COLUMNS =
  'id, gateway, request_id, at, tenant, sandbox, method, scheme, host, port, path, status, decision, secrets, bytes_in, bytes_out, duration_ms, upstream_ip, error_code, complete';
const PAGE = 1_000;
const TOP = 50;

interface RawRow {
  id: string;
  gateway: string;
  request_id: string;
  at: string;
  tenant: string | null;
  sandbox: string | null;
  method: string;
  scheme: string;
  host: string;
  port: number;
  path: string;
  status: number;
  decision: string;
  secrets: string;
  bytes_in: string;
  bytes_out: string;
  duration_ms: string;
  upstream_ip: string | null;
  error_code: string | null;
  complete: boolean;
}

/**
 * The listing of queryNetLog (query.ts), in PostgreSQL. With `afterId`, the rows after it up to
 * `upToId` (follow.ts decides which ids are final: the backend's `query` goes through it).
 */
export async function pgQueryNetLog(pool: Pool, q: NetLogQuery, upToId?: number): Promise<StoredNetLogRow[]> {
  const { where, values } = pgNetLogFilter(q);
  const limit = clampLimit(q.limit);
  const bounded = upToId === undefined ? where : `${where === '' ? 'WHERE' : `${where} AND`} id <= ${Math.floor(upToId)}`;
  const sql =
    q.afterId !== undefined
      ? `SELECT ${COLUMNS} FROM network_log ${bounded} ORDER BY id ASC LIMIT ${limit}`
      : `SELECT * FROM (SELECT ${COLUMNS} FROM network_log ${where} ORDER BY at DESC, id DESC LIMIT ${limit}) t ORDER BY at ASC, id ASC`;
  return (await pool.query<RawRow>(sql, values)).rows.map(fromRaw);
}

/** Every matching row oldest first (by id), a page at a time: an export of millions holds one page. */
export async function* pgIterateNetLog(pool: Pool, q: NetLogQuery): AsyncGenerator<StoredNetLogRow> {
  let after = q.afterId ?? 0;
  for (;;) {
    const { where, values } = pgNetLogFilter({ ...q, afterId: after });
    const rows = (await pool.query<RawRow>(`SELECT ${COLUMNS} FROM network_log ${where} ORDER BY id ASC LIMIT ${PAGE}`, values)).rows;
    for (const r of rows) yield fromRaw(r);
    if (rows.length < PAGE) return;
    after = Number(rows[rows.length - 1]?.id);
  }
}

export async function pgLastNetLogId(pool: Pool): Promise<number> {
  const r = await pool.query<{ id: string | null }>('SELECT max(id) AS id FROM network_log');
  return Number(r.rows[0]?.id ?? 0);
}

export async function pgNetLogRecord(pool: Pool, requestId: string, tenant?: string): Promise<NetLogRecord | undefined> {
  const { where, values } = pgNetLogFilter(tenant === undefined ? {} : { tenant }, 1);
  const sql = `SELECT ${COLUMNS}, detail, chain_seq, hash FROM network_log ${where === '' ? 'WHERE' : `${where} AND`} request_id = $1 LIMIT 1`;
  const r = (await pool.query<RawRow & { detail: string | null; chain_seq: string | null; hash: string | null }>(sql, [requestId, ...values])).rows[0];
  if (r === undefined) return undefined;
  return { ...fromRaw(r), detail: parseDetail(r.detail), chainSeq: r.chain_seq === null ? null : Number(r.chain_seq), hash: r.hash };
}

/** `log stats` (stats.ts), in PostgreSQL: counts as float8 so that they arrive as numbers. */
export async function pgNetLogStats(pool: Pool, q: NetLogQuery): Promise<NetLogStats> {
  const { where, values } = pgNetLogFilter({ ...q, afterId: undefined });
  const and = where === '' ? 'WHERE' : `${where} AND`;
  const all = async <T extends object>(sql: string): Promise<T[]> => (await pool.query<T>(sql, values)).rows;
  const grouped = async (column: string): Promise<CountRow[]> =>
    (
      await all<CountRow>(
        `SELECT COALESCE(${column}, '-') AS key, count(*)::float8 AS requests, sum(bytes_in)::float8 AS "bytesIn", sum(bytes_out)::float8 AS "bytesOut"
         FROM network_log ${where} GROUP BY ${column} ORDER BY requests DESC, key LIMIT ${TOP}`,
      )
    ).map((r) => ({ ...r, key: r.key === '' ? '-' : r.key }));
  const [total, bySandbox, byHost, byDecision, refusals, swaps] = await Promise.all([
    all<NetLogStats['total']>(
      `SELECT count(*)::float8 AS requests, COALESCE(sum(bytes_in), 0)::float8 AS "bytesIn", COALESCE(sum(bytes_out), 0)::float8 AS "bytesOut",
       count(*) FILTER (WHERE decision IN ('denied', 'token_misuse', 'error'))::float8 AS refused FROM network_log ${where}`,
    ),
    grouped('sandbox'),
    grouped('host'),
    all<{ key: string; requests: number }>(`SELECT decision AS key, count(*)::float8 AS requests FROM network_log ${where} GROUP BY decision ORDER BY requests DESC, key`),
    all<{ key: string; requests: number }>(
      `SELECT error_code AS key, count(*)::float8 AS requests FROM network_log ${and} error_code IS NOT NULL GROUP BY error_code ORDER BY requests DESC, key LIMIT ${TOP}`,
    ),
    all<{ key: string; requests: number }>(
      `SELECT j.v AS key, count(*)::float8 AS requests FROM network_log, jsonb_array_elements_text(network_log.secrets::jsonb) AS j(v) ${and} decision = 'swapped'
       GROUP BY j.v ORDER BY requests DESC, key LIMIT ${TOP}`,
    ),
  ]);
  return { total: total[0] ?? { requests: 0, bytesIn: 0, bytesOut: 0, refused: 0 }, bySandbox, byHost, byDecision, refusals, swaps };
}

function fromRaw(r: RawRow): StoredNetLogRow {
  return {
    id: Number(r.id),
    gateway: r.gateway,
    requestId: r.request_id,
    at: Number(r.at),
    tenant: r.tenant,
    sandbox: r.sandbox,
    method: r.method,
    scheme: r.scheme === 'http' ? 'http' : 'https',
    host: r.host,
    port: r.port,
    path: r.path,
    status: r.status,
    decision: r.decision as Decision,
    secrets: parseSecrets(r.secrets),
    bytesIn: Number(r.bytes_in),
    bytesOut: Number(r.bytes_out),
    durationMs: Number(r.duration_ms),
    upstreamIp: r.upstream_ip,
    errorCode: r.error_code as GatewayErrorCode | null,
    complete: r.complete,
  };
}
