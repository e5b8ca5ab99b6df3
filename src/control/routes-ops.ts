import { queryNetLog } from '../netlog/query.js';
import { parseSince } from '../netlog/sanitize.js';
import type { NetLogQuery } from '../netlog/types.js';
import { DEFAULT_TENANT } from '../model/secrets.js';
import type { ControlDeps } from './deps.js';
import { ControlError } from './problem.js';
import type { Route } from './router.js';
import type { AuditEntry, LogRow } from './wire.js';

const DECISIONS = ['allowed', 'swapped', 'denied', 'token_misuse', 'error'];
const MAX_API_LIMIT = 10_000;

const LOG_QUERY = {
  sandbox: 'only this sandbox',
  host: 'only this host',
  decision: `only this decision: ${DECISIONS.join(' | ')}`,
  since: 'only rows since: epoch ms, ISO 8601, or an age (30s, 15m, 2h, 7d)',
  afterId: 'only rows with a larger id (for polling), oldest first',
  limit: `the newest N rows (default 100, at most ${MAX_API_LIMIT})`,
};

const AUDIT_QUERY = {
  since: 'only events since: epoch ms, ISO 8601, or an age',
  limit: `the newest N events (default 100, at most ${MAX_API_LIMIT})`,
};

function invalid(field: string, message: string): ControlError {
  return new ControlError('CTL_INVALID', `${field} ${message}`, [{ field, message }]);
}

function intParam(q: URLSearchParams, field: string, max: number): number | undefined {
  const v = q.get(field);
  if (v === null) return undefined;
  if (!/^\d{1,15}$/.test(v) || Number(v) > max) throw invalid(field, `must be an integer from 0 to ${max}`);
  return Number(v);
}

function sinceParam(q: URLSearchParams, now: number): number | undefined {
  const v = q.get('since');
  if (v === null) return undefined;
  if (/^\d{10,15}$/.test(v)) return Number(v);
  try {
    return parseSince(v, now);
  } catch {
    throw invalid('since', 'must be epoch ms, an ISO 8601 time or an age like 15m');
  }
}

function checkKnown(q: URLSearchParams, known: Record<string, string>): void {
  const unknown = [...new Set(q.keys())].filter((k) => !Object.hasOwn(known, k));
  if (unknown.length > 0) {
    throw new ControlError('CTL_INVALID', 'unknown query parameter', unknown.map((k) => ({ field: k.slice(0, 64).replace(/[^\x20-\x7e]/g, '?'), message: 'unknown query parameter' })));
  }
}

export function opsRoutes(deps: ControlDeps, openapi: () => unknown): Route[] {
  const clock = deps.clock ?? Date.now;
  return [
    {
      method: 'GET', path: '/healthz', roles: 'public', operationId: 'healthz',
      summary: 'Liveness: the process answers', success: { status: 200, schema: 'Health' }, mutating: false,
      handle: () => ({ status: 200, json: { status: 'ok' } }),
    },
    {
      method: 'GET', path: '/readyz', roles: 'public', operationId: 'readyz',
      summary: 'Readiness: the proxy listens, the database answers, no shutdown in progress', success: { status: 200, schema: 'Health' }, mutating: false,
      handle: () => {
        let db = true;
        try {
          deps.db.prepare('SELECT 1').get();
        } catch {
          db = false;
        }
        const ready = db && deps.ready();
        return { status: ready ? 200 : 503, json: { status: ready ? 'ready' : 'not ready', proxy: deps.ready(), database: db } };
      },
    },
    {
      method: 'GET', path: '/openapi.json', roles: 'public', operationId: 'openapi',
      summary: 'This API\'s OpenAPI 3.1 description', success: { status: 200, media: 'application/json' }, mutating: false,
      handle: () => ({ status: 200, json: openapi() }),
    },
    {
      method: 'GET', path: '/metrics', roles: ['admin', 'operator', 'auditor'], operationId: 'metrics',
      summary: 'Prometheus metrics (text exposition format 0.0.4)', success: { status: 200, media: 'text/plain' }, mutating: false,
      handle: (ctx) => {
        // Gateway-wide counts are the operator's: a key of another tenant does not see them.
        if (ctx.caller.tenant !== DEFAULT_TENANT) throw new ControlError('CTL_FORBIDDEN', 'metrics are for keys of the tenant default');
        return { status: 200, text: deps.metrics.render(), contentType: 'text/plain; version=0.0.4; charset=utf-8' };
      },
    },
    {
      method: 'GET', path: '/v1/ca', roles: ['admin', 'operator', 'auditor'], operationId: 'getCa', query: { bundle: 'true: system roots plus the standin CA (what the CA variables point at)' },
      summary: 'The standin CA certificate (PEM) that sandboxes must trust', success: { status: 200, media: 'application/x-pem-file' }, mutating: false,
      handle: (ctx) => {
        checkKnown(ctx.query, { bundle: '' });
        const bundle = ctx.query.get('bundle');
        if (bundle !== null && bundle !== 'true' && bundle !== 'false') throw invalid('bundle', 'must be true or false');
        return { status: 200, text: bundle === 'true' ? deps.caBundlePem() : deps.caCertPem, contentType: 'application/x-pem-file' };
      },
    },
    {
      method: 'GET', path: '/v1/log', roles: ['admin', 'operator', 'auditor'], operationId: 'queryLog', query: LOG_QUERY,
      summary: 'The network log: newest N rows, oldest first', success: { status: 200, schema: 'LogRow', array: true }, mutating: false,
      handle: (ctx) => {
        const q = ctx.query;
        checkKnown(q, LOG_QUERY);
        // Only the caller's tenant's rows (the default tenant's include unauthenticated refusals).
        const query: NetLogQuery = { tenant: ctx.caller.tenant, limit: intParam(q, 'limit', MAX_API_LIMIT) ?? 100 };
        const sandbox = q.get('sandbox');
        if (sandbox !== null) query.sandbox = sandbox.trim();
        const host = q.get('host');
        if (host !== null) query.host = host;
        const decision = q.get('decision');
        if (decision !== null) {
          if (!DECISIONS.includes(decision)) throw invalid('decision', `must be one of ${DECISIONS.join(', ')}`);
          query.decision = decision;
        }
        const since = sinceParam(q, clock());
        if (since !== undefined) query.since = since;
        const afterId = intParam(q, 'afterId', Number.MAX_SAFE_INTEGER);
        if (afterId !== undefined) query.afterId = afterId;
        const rows: LogRow[] = queryNetLog(deps.db, query);
        return { status: 200, json: rows };
      },
    },
    {
      method: 'GET', path: '/v1/audit', roles: ['admin', 'auditor'], operationId: 'queryAudit', query: AUDIT_QUERY,
      summary: 'The audit log of secret, sandbox and key changes, oldest first', success: { status: 200, schema: 'AuditEntry', array: true }, mutating: false,
      handle: (ctx) => {
        checkKnown(ctx.query, AUDIT_QUERY);
        const filter: { limit: number; since?: number } = { limit: intParam(ctx.query, 'limit', MAX_API_LIMIT) ?? 100 };
        const since = sinceParam(ctx.query, clock());
        if (since !== undefined) filter.since = since;
        const events: AuditEntry[] = ctx.store.listAudit(filter).map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
        return { status: 200, json: events };
      },
    },
  ];
}
