import type { Decision, GatewayErrorCode } from '../errors.js';
import type { Db } from '../store/database.js';
import { DEFAULT_TENANT } from '../model/secrets.js';
import type { NetLogQuery, StoredNetLogRow } from './types.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 100_000;

interface RawRow {
  id: number;
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
 * Reads the network log. Every filter value is a bound parameter; the SQL text is chosen only from
 * fixed fragments. Results are always oldest first; `limit` keeps the newest N (what `standin log`
 * shows), and `afterId` returns rows written since the last one seen (what `--follow` polls).
 */
export function queryNetLog(db: Db, q: NetLogQuery): StoredNetLogRow[] {
  const where: string[] = [];
  const params: Record<string, string | number> = {};
  if (q.tenant !== undefined) {
    // Rows refused before authentication have no tenant; the gateway operator's tenant sees them.
    where.push(q.tenant === DEFAULT_TENANT ? "(tenant = @tenant OR tenant IS NULL)" : 'tenant = @tenant');
    params.tenant = q.tenant;
  }
  if (q.sandbox !== undefined) {
    where.push('sandbox = @sandbox COLLATE NOCASE');
    params.sandbox = q.sandbox;
  }
  if (q.host !== undefined) {
    where.push('host = @host');
    params.host = q.host.trim().toLowerCase().replace(/\.$/, '');
  }
  if (q.decision !== undefined) {
    where.push('decision = @decision');
    params.decision = q.decision;
  }
  if (q.since !== undefined) {
    where.push('at >= @since');
    params.since = Math.floor(q.since);
  }
  if (q.afterId !== undefined) {
    where.push('id > @afterId');
    params.afterId = Math.floor(q.afterId);
  }
  params.limit = clampLimit(q.limit);
  const filter = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
  // Following reads forward from a row id; a listing takes the newest rows and turns them around.
  const sql =
    q.afterId !== undefined
      ? `SELECT * FROM network_log ${filter} ORDER BY id ASC LIMIT @limit`
      : `SELECT * FROM (SELECT * FROM network_log ${filter} ORDER BY id DESC LIMIT @limit) ORDER BY id ASC`;
  const rows = db.prepare(sql).all(params) as RawRow[];
  return rows.map(fromRaw);
}

/** The largest row id in the log (0 when empty): where `--follow` starts after printing the tail. */
export function lastNetLogId(db: Db): number {
  const row = db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM network_log').get() as { id: number };
  return row.id;
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIMIT;
  return Math.min(MAX_LIMIT, Math.max(0, Math.floor(limit)));
}

function fromRaw(r: RawRow): StoredNetLogRow {
  return {
    id: r.id,
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
function parseSecrets(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}
