import { explainRow, type Explanation } from '../netlog/explain.js';
import { parseSince } from '../netlog/sanitize.js';
import type { NetLogReader } from '../netlog/backend.js';
import type { NetLogStats } from '../netlog/stats.js';
import type { NetLogQuery, NetLogRecord, StoredNetLogRow } from '../netlog/types.js';

/**
 * What the log viewer and the log routes read, shared by the control listener and `standin log
 * ui` (viewer-server.ts): the same filters with the same checks, always bound to one tenant.
 */

export const DECISIONS = ['allowed', 'swapped', 'denied', 'token_misuse', 'error'] as const;
export const MAX_VIEW_LIMIT = 10_000;

/** The query parameters of a log read, as strings (what a URL carries). */
export interface LogParams {
  sandbox?: string | undefined;
  host?: string | undefined;
  decision?: string | undefined;
  status?: string | undefined;
  secret?: string | undefined;
  method?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  afterId?: string | undefined;
  limit?: string | undefined;
}

export interface FieldProblem {
  field: string;
  message: string;
}

/** Thrown with every bad parameter at once; each server maps it to its own 400. */
export class LogParamsError extends Error {
  constructor(readonly problems: readonly FieldProblem[]) {
    super(problems.map((p) => `${p.field} ${p.message}`).join('; '));
    this.name = 'LogParamsError';
  }
}

export function logQuery(p: LogParams, tenant: string, now: number): NetLogQuery {
  const problems: FieldProblem[] = [];
  const q: NetLogQuery = { tenant };
  const set = <K extends keyof NetLogQuery>(key: K, value: NetLogQuery[K] | undefined, ok: boolean, message: string): void => {
    if (!ok) problems.push({ field: key, message });
    else if (value !== undefined) q[key] = value;
  };
  const has = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';
  if (has(p.sandbox)) set('sandbox', p.sandbox.trim(), p.sandbox.length <= 128, 'must be at most 128 characters');
  if (has(p.host)) set('host', p.host.trim().toLowerCase(), /^[A-Za-z0-9.*?:_-]{1,253}$/.test(p.host.trim()), 'must be a host name or a glob like *.example.com');
  if (has(p.decision)) set('decision', p.decision, (DECISIONS as readonly string[]).includes(p.decision), `must be one of ${DECISIONS.join(', ')}`);
  if (has(p.status)) set('status', Number(p.status), /^\d{1,3}$/.test(p.status.trim()), 'must be an HTTP status (0 to 999)');
  if (has(p.secret)) set('secret', p.secret.trim(), /^[A-Za-z0-9._~-]{1,128}(@\d{1,9})?$/.test(p.secret.trim()), 'must be NAME or NAME@VERSION');
  if (has(p.method)) set('method', p.method.trim().toUpperCase(), /^[A-Za-z]{1,32}$/.test(p.method.trim()), 'must be a method like GET');
  for (const key of ['since', 'until'] as const) {
    const v = p[key];
    if (!has(v)) continue;
    const t = time(v, now);
    set(key, t, t !== undefined, 'must be epoch ms, an ISO 8601 time or an age like 15m');
  }
  if (has(p.afterId)) set('afterId', Number(p.afterId), /^\d{1,15}$/.test(p.afterId), 'must be a row id');
  if (has(p.limit)) set('limit', Number(p.limit), /^\d{1,5}$/.test(p.limit) && Number(p.limit) <= MAX_VIEW_LIMIT, `must be an integer from 0 to ${MAX_VIEW_LIMIT}`);
  if (problems.length > 0) throw new LogParamsError(problems);
  return q;
}

function time(v: string, now: number): number | undefined {
  if (/^\d{10,15}$/.test(v)) return Number(v);
  try {
    return parseSince(v, now);
  } catch {
    return undefined;
  }
}

export function viewRows(log: NetLogReader, p: LogParams, tenant: string, now: number): Promise<StoredNetLogRow[]> {
  const q = logQuery(p, tenant, now);
  return log.query({ ...q, limit: q.limit ?? 100 });
}

export function viewStats(log: NetLogReader, p: LogParams, tenant: string, now: number): Promise<NetLogStats> {
  return log.stats(logQuery({ ...p, afterId: undefined, limit: undefined }, tenant, now));
}

export interface ExplainView {
  explanation: Explanation;
  row: NetLogRecord;
}

const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Undefined when the id names no row of this tenant (or is not a request id at all). */
export async function viewExplain(log: NetLogReader, requestId: string, tenant: string): Promise<ExplainView | undefined> {
  if (!REQUEST_ID.test(requestId)) return undefined;
  const row = await log.record(requestId.toLowerCase(), tenant);
  return row === undefined ? undefined : { explanation: explainRow(row), row };
}
