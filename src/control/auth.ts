import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { DEFAULT_TENANT } from '../model/secrets.js';
import type { ApiKeyStore } from '../store/store-api.js';
import { checkLabel } from '../store/validate.js';
import { ControlError } from './problem.js';
import type { Caller, RouteMeta } from './route.js';

const BEARER = /^Bearer ([\x21-\x7e]{1,200})$/;

/**
 * Who may call what, in one place (an onRequest hook, before any body is read). The unix socket
 * is 0600: whoever reaches it administers the home, in the tenant a `Standin-Tenant` header names.
 * On TCP every route but the public ones needs `Authorization: Bearer <API key>`, and the key's
 * role must be among the route's roles. Unknown paths and methods are refused before anyone is asked.
 */
export async function authenticate(apiKeys: ApiKeyStore, unix: boolean, req: IncomingMessage, route: RouteMeta): Promise<Caller> {
  const named = tenantHeader(req);
  if (route.roles === 'public') {
    return { actor: unix ? 'api:unix' : 'api:anonymous', role: unix ? 'admin' : 'auditor', tenant: DEFAULT_TENANT, canReveal: false };
  }
  let caller: Caller;
  if (unix) {
    caller = { actor: 'api:unix', role: 'admin', tenant: named ?? DEFAULT_TENANT, canReveal: false };
  } else {
    // One Authorization header exactly (rawHeaders: a second one is not hidden by req.headers).
    const m = countHeader(req, 'authorization') === 1 ? BEARER.exec(req.headers.authorization ?? '') : null;
    const key = m?.[1] === undefined ? undefined : await apiKeys.verify(m[1]);
    if (key === undefined) throw new ControlError('CTL_UNAUTHORIZED');
    caller = { actor: `api:${key.name}`, role: key.role, tenant: key.tenant, canReveal: key.canReveal };
    // A key belongs to one tenant; naming another is refused, not ignored, so the mistake shows.
    if (named !== undefined && named !== key.tenant) throw new ControlError('CTL_FORBIDDEN', 'this API key belongs to another tenant');
  }
  if (!route.roles.includes(caller.role)) throw new ControlError('CTL_FORBIDDEN', `role ${caller.role} cannot call ${route.operationId}`);
  return caller;
}

/** The hook: sets `request.caller` on every routed request; 404s and 405s pass through untouched. */
export function authHook(apiKeys: ApiKeyStore, unix: boolean): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    // Only origin-form: fastify would route `GET http://host/healthz` (a proxy-style request,
    // not for us) by its path.
    const url = request.raw.url ?? '';
    if (!url.startsWith('/') || url.startsWith('//')) throw new ControlError('CTL_NOT_FOUND');
    // `/v1/secrets/` names nothing: fastify matches `:name` to an empty segment, we do not.
    const params = request.params as Record<string, string> | undefined;
    if (Object.values(params ?? {}).some((v) => v === '')) throw new ControlError('CTL_NOT_FOUND');
    const meta = request.routeOptions.config.control;
    if (meta === undefined) return;
    request.caller = await authenticate(apiKeys, unix, request.raw, meta);
  };
}

/** `Standin-Tenant: NAME`, lower-cased; exactly one such header or none. */
function tenantHeader(req: IncomingMessage): string | undefined {
  const count = countHeader(req, 'standin-tenant');
  if (count === 0) return undefined;
  const v = req.headers['standin-tenant'];
  if (count > 1 || typeof v !== 'string') throw new ControlError('CTL_INVALID', 'give one Standin-Tenant header');
  return checkLabel('tenant', v, DEFAULT_TENANT);
}

function countHeader(req: IncomingMessage, name: string): number {
  return req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === name).length;
}
