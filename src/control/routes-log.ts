import { Type } from '@sinclair/typebox';
import type { ControlDeps } from './deps.js';
import { logQuery, LogParamsError, viewExplain, viewStats, type LogParams } from './log-views.js';
import { querySchema } from './openapi.js';
import { ControlError } from './problem.js';
import { route, type Route } from './route.js';
import { DECISIONS, StringEnum } from './schemas.js';
import { LogExplanationSchema, LogStatsSchema } from './schemas-log.js';
import { invalid } from './validation.js';
import { VIEWER_HTML, VIEWER_CSS } from './viewer/page.js';
import { VIEWER_JS } from './viewer/script.js';

const READERS = ['admin', 'operator', 'auditor'] as const;

/** The filters of every log read; their meaning is checked by logQuery (log-views.ts). */
export const LOG_FILTERS = {
  sandbox: Type.String({ description: 'only this sandbox' }),
  host: Type.String({ description: 'only this host, or a glob (*.example.com)' }),
  decision: StringEnum(DECISIONS, { description: `only this decision: ${DECISIONS.join(' | ')}` }),
  status: Type.String({ pattern: '^[0-9]{1,3}$', description: 'only this HTTP status (0: none was sent)' }),
  secret: Type.String({ description: 'only requests that carried this secret: NAME (any version) or NAME@VERSION' }),
  method: Type.String({ description: 'only this request method' }),
  since: Type.String({ description: 'only rows since: epoch ms, ISO 8601, or an age (30s, 15m, 2h, 7d)' }),
  until: Type.String({ description: 'only rows before: epoch ms, ISO 8601, or an age' }),
};

const STATS_QUERY = querySchema(LOG_FILTERS);

/** A LogParamsError as the API's one CTL_INVALID with every field. */
export function checkedQuery<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof LogParamsError) throw invalid([...e.problems]);
    throw e;
  }
}

/**
 * Log inspection on the control API: stats, explain, and the read-only viewer page (its HTML,
 * script and style are public: they hold no data; every read they make needs a key on TCP).
 */
export function logRoutes(deps: ControlDeps): Route[] {
  const clock = deps.clock ?? Date.now;
  const asset = (path: string, operationId: string, text: string, contentType: string): Route =>
    route({
      method: 'GET', path, roles: 'public', operationId, summary: `The log viewer's ${operationId.replace('viewer', '').toLowerCase() || 'page'} (no data; reads need a key)`,
      success: { status: 200, media: contentType.split(';')[0] ?? contentType }, mutating: false,
      handle: () => ({ status: 200, text, contentType }),
    });
  return [
    route({
      method: 'GET', path: '/v1/log/stats', roles: [...READERS], operationId: 'logStats', query: STATS_QUERY,
      summary: 'Counts over the log: per sandbox and host, refusals by code, bytes, swaps per secret@version', success: { status: 200, schema: LogStatsSchema }, mutating: false,
      handle: async (ctx) => {
        const p: LogParams = ctx.query;
        const stats = await checkedQuery(() => viewStats(deps.netlog, p, ctx.caller.tenant, clock()));
        return { status: 200, json: stats };
      },
    }),
    route({
      method: 'GET', path: '/v1/log/explain/:requestId', roles: [...READERS], operationId: 'explainLogRow',
      summary: 'One request in plain words: what happened, why, what to change; with its full row', success: { status: 200, schema: LogExplanationSchema }, mutating: false,
      handle: async (ctx) => {
        const view = await viewExplain(deps.netlog, ctx.params.requestId ?? '', ctx.caller.tenant);
        if (view === undefined) throw new ControlError('CTL_NOT_FOUND', 'no such request in this tenant\'s network log');
        return { status: 200, json: view };
      },
    }),
    asset('/ui/log', 'viewerPage', VIEWER_HTML, 'text/html; charset=utf-8'),
    asset('/ui/log.js', 'viewerScript', VIEWER_JS, 'text/javascript; charset=utf-8'),
    asset('/ui/log.css', 'viewerStyle', VIEWER_CSS, 'text/css; charset=utf-8'),
  ];
}

/** Checks and converts the query of `GET /v1/log` (the same filters, plus afterId and limit). */
export function logListQuery(p: LogParams, tenant: string, now: number): ReturnType<typeof logQuery> {
  return checkedQuery(() => logQuery(p, tenant, now));
}
