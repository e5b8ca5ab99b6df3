import type { Decision, GatewayErrorCode } from '../errors.js';
import type { Db } from '../store/database.js';
import { netLogFilter } from './filters.js';
import type { NetLogDetail, NetLogQuery, NetLogRecord, StoredNetLogRow } from './types.js';

// The columns of a listing: a row's detail and hash are read only where they are shown.
const COLUMNS =
  'id, gateway, request_id, at, tenant, sandbox, method, scheme, host, port, path, status, decision, secrets, bytes_in, bytes_out, duration_ms, upstream_ip, error_code, complete';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 100_000;

interface RawRow {
  id: number;
  gateway: string;
  request_id: string;
  at: number;
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
  bytes_in: number;
  bytes_out: number;
  duration_ms: number;
  upstream_ip: string | null;
  error_code: string | null;
  complete: number;
}

/**
 * Reads the network log (filters: filters.ts). A listing is ordered by start time (`at`, then row
 * id), so that each filter's (column, at) index hands out the newest rows without sorting. Results are always oldest first; `limit` keeps the newest N (what `standin log`
 * shows), and `afterId` returns rows written since the last one seen (what `--follow` polls).
 */
export function queryNetLog(db: Db, q: NetLogQuery): StoredNetLogRow[] {
  const { where, params } = netLogFilter(q);
  const limit = clampLimit(q.limit);
  // Following reads forward from a row id; a listing takes the newest rows and turns them around.
  const sql =
    q.afterId !== undefined
      ? `SELECT ${COLUMNS} FROM network_log ${where} ORDER BY id ASC LIMIT ${limit}`
      : `SELECT * FROM (SELECT ${COLUMNS} FROM network_log ${where} ORDER BY at DESC, id DESC LIMIT ${limit}) ORDER BY at ASC, id ASC`;
  const rows = db.prepare(sql).all(params) as RawRow[];
  return rows.map(fromRaw);
}

/**
 * Every matching row, oldest first, one at a time (better-sqlite3's iterate): `log export` of a
 * million rows holds one row in memory, not a million. `limit` is ignored.
 */
export function* iterateNetLog(db: Db, q: NetLogQuery): Generator<StoredNetLogRow> {
  const { where, params } = netLogFilter(q);
  for (const r of db.prepare(`SELECT ${COLUMNS} FROM network_log ${where} ORDER BY id ASC`).iterate(params)) {
    yield fromRaw(r as RawRow);
  }
}

/** One row by request id with what `log explain` reads; tenant-bound like every read. */
export function getNetLogRecord(db: Db, requestId: string, tenant?: string): NetLogRecord | undefined {
  const { where, params } = netLogFilter(tenant === undefined ? {} : { tenant });
  const sql = `SELECT ${COLUMNS}, detail, chain_seq, hash FROM network_log ${where === '' ? 'WHERE' : `${where} AND`} request_id = @requestId`;
  const r = db.prepare(sql).get({ ...params, requestId }) as (RawRow & { detail: string | null; chain_seq: number | null; hash: string | null }) | undefined;
  if (r === undefined) return undefined;
  return { ...fromRaw(r), detail: parseDetail(r.detail), chainSeq: r.chain_seq, hash: r.hash };
}

/** The largest row id in the log (0 when empty): where `--follow` starts after printing the tail. */
export function lastNetLogId(db: Db): number {
  const row = db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM network_log').get() as { id: number };
  return row.id;
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIMIT;
  return Math.min(MAX_LIMIT, Math.max(0, Math.floor(limit)));
}

function fromRaw(r: RawRow): StoredNetLogRow {
  return {
    id: r.id,
    gateway: r.gateway,
    requestId: r.request_id,
    at: r.at,
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
    bytesIn: r.bytes_in,
    bytesOut: r.bytes_out,
    durationMs: r.duration_ms,
    upstreamIp: r.upstream_ip,
    errorCode: r.error_code as GatewayErrorCode | null,
    complete: r.complete !== 0,
  };
}

// A damaged cell should cost one column of one row, not the whole listing.
export function parseSecrets(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}

// A detail the gateway did not write (older row, hand edit) reads as none rather than failing.
export function parseDetail(text: string | null): NetLogDetail | undefined {
  if (text === null) return undefined;
  try {
    const v = JSON.parse(text) as Partial<NetLogDetail> | null;
    if (v === null || typeof v !== 'object') return undefined;
    const applied = Array.isArray(v.applied)
      ? v.applied.filter((a) => typeof a?.secret === 'string' && typeof a.version === 'number' && typeof a.placement === 'string')
      : [];
    const out: NetLogDetail = { protocol: typeof v.protocol === 'string' ? v.protocol : '', applied, scrubbed: v.scrubbed === true };
    if (typeof v.reason === 'string') out.reason = v.reason;
    return out;
  } catch {
    return undefined;
  }
}
