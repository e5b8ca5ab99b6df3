import { parseSince } from '../netlog/sanitize.js';
import type { NetLogQuery } from '../netlog/types.js';
import { Type, type TString } from '@sinclair/typebox';
import { DEFAULT_TENANT } from '../model/secrets.js';
import type { ControlDeps, StoreHealth } from './deps.js';
import { querySchema } from './openapi.js';
import { ControlError } from './problem.js';
import { route, type Route } from './route.js';
import { LOG_FILTERS, logListQuery } from './routes-log.js';
import { AuditEntrySchema, Health, LogRowSchema, Ref, StringEnum } from './schemas.js';
import { invalid } from './validation.js';
import type { AuditEntry, LogRow } from './wire.js';

const MAX_API_LIMIT = 10_000;
// Query values are strings: digits only (no `1e3`, no sign), their range checked by the handler.
const Digits = (description: string): TString => Type.String({ pattern: '^[0-9]{1,15}$', description });

const LOG_QUERY = querySchema({
  ...LOG_FILTERS,
  afterId: Digits('only rows with a larger id (for polling), oldest first'),
  limit: Digits(`the newest N rows (default 100, at most ${MAX_API_LIMIT})`),
});

const AUDIT_QUERY = querySchema({
  since: Type.String({ description: 'only events since: epoch ms, ISO 8601, or an age' }),
  limit: Digits(`the newest N events (default 100, at most ${MAX_API_LIMIT})`),
});

const CA_QUERY = querySchema({
  bundle: StringEnum(['true', 'false'] as const, { description: 'true: system roots plus the standin CA (what the CA variables point at)' }),
});

function upTo(field: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (Number(v) > max) throw invalid([{ field, message: `must be an integer from 0 to ${max}` }]);
  return Number(v);
}

function sinceParam(v: string | undefined, now: number): number | undefined {
  if (v === undefined) return undefined;
  if (/^\d{10,15}$/.test(v)) return Number(v);
  try {
    return parseSince(v, now);
  } catch {
    throw invalid([{ field: 'since', message: 'must be epoch ms, an ISO 8601 time or an age like 15m' }]);
  }
}

export function opsRoutes(deps: ControlDeps, openapi: () => unknown): Route[] {
  const clock = deps.clock ?? Date.now;
  return [
    route({
      method: 'GET', path: '/healthz', roles: 'public', operationId: 'healthz',
      summary: 'Liveness: the process answers', success: { status: 200, schema: Ref(Health) }, mutating: false,
      handle: () => ({ status: 200, json: { status: 'ok' } }),
    }),
    route({
      method: 'GET', path: '/readyz', roles: 'public', operationId: 'readyz',
      summary: 'Readiness: the proxy listens, the database answers, no shutdown in progress', success: { status: 200, schema: Ref(Health) }, mutating: false,
      handle: async () => {
        const health = deps.storeHealth === undefined ? await pingHealth(deps) : await deps.storeHealth();
        const db = health.database && health.stale !== true;
        const ready = db && deps.ready();
        const snapshot = health.snapshotAgeSeconds === undefined ? {} : { snapshotAgeSeconds: health.snapshotAgeSeconds, stale: health.stale === true };
        return { status: ready ? 200 : 503, json: { status: ready ? 'ready' : 'not ready', proxy: deps.ready(), database: health.database, ...snapshot } };
      },
    }),
    route({
      method: 'GET', path: '/openapi.json', roles: 'public', operationId: 'openapi',
      summary: 'This API\'s OpenAPI 3.1 description', success: { status: 200, media: 'application/json' }, mutating: false,
      handle: () => ({ status: 200, json: openapi() }),
    }),
    route({
      method: 'GET', path: '/metrics', roles: ['admin', 'operator', 'auditor'], operationId: 'metrics',
      summary: 'Prometheus metrics (text exposition format 0.0.4)', success: { status: 200, media: 'text/plain' }, mutating: false,
      handle: async (ctx) => {
        // Gateway-wide counts are the operator's: a key of another tenant does not see them.
        if (ctx.caller.tenant !== DEFAULT_TENANT) throw new ControlError('CTL_FORBIDDEN', 'metrics are for keys of the tenant default');
        return { status: 200, text: await deps.metrics.render(), contentType: deps.metrics.contentType };
      },
    }),
    route({
      method: 'GET', path: '/v1/ca', roles: ['admin', 'operator', 'auditor'], operationId: 'getCa', query: CA_QUERY,
      summary: 'The standin CA certificate (PEM) that sandboxes must trust', success: { status: 200, media: 'application/x-pem-file' }, mutating: false,
      handle: async (ctx) => ({ status: 200, text: ctx.query.bundle === 'true' ? deps.caBundlePem() : deps.caCertPem, contentType: 'application/x-pem-file' }),
    }),
    route({
      method: 'GET', path: '/v1/log', roles: ['admin', 'operator', 'auditor'], operationId: 'queryLog', query: LOG_QUERY,
      summary: 'The network log: newest N rows, oldest first', success: { status: 200, schema: Ref(LogRowSchema), array: true }, mutating: false,
      handle: async (ctx) => {
        const q = ctx.query;
        const limit = upTo('limit', q.limit, MAX_API_LIMIT) ?? 100;
        const afterId = upTo('afterId', q.afterId, Number.MAX_SAFE_INTEGER);
        // Only the caller's tenant's rows (the default tenant's include unauthenticated refusals).
        const query: NetLogQuery = { ...logListQuery({ ...q, afterId: undefined, limit: undefined }, ctx.caller.tenant, clock()), limit };
        if (afterId !== undefined) query.afterId = afterId;
        const rows: LogRow[] = await deps.netlog.query(query);
        return { status: 200, json: rows };
      },
    }),
    route({
      method: 'GET', path: '/v1/audit', roles: ['admin', 'auditor'], operationId: 'queryAudit', query: AUDIT_QUERY,
      summary: 'The audit log of secret, sandbox and key changes, oldest first', success: { status: 200, schema: Ref(AuditEntrySchema), array: true }, mutating: false,
      handle: async (ctx) => {
        const filter: { limit: number; since?: number } = { limit: upTo('limit', ctx.query.limit, MAX_API_LIMIT) ?? 100 };
        const since = sinceParam(ctx.query.since, clock());
        if (since !== undefined) filter.since = since;
        const events: AuditEntry[] = (await ctx.store.listAudit(filter)).map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
        return { status: 200, json: events };
      },
    }),
  ];
}

async function pingHealth(deps: ControlDeps): Promise<StoreHealth> {
  try {
    await deps.store.ping();
    return { database: true };
  } catch {
    return { database: false };
  }
}
