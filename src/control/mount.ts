import type { FastifyInstance, FastifyReply, FastifySchemaValidationError } from 'fastify';
import type { ControlDeps } from './deps.js';
import { routeSchema } from './openapi.js';
import { ControlError } from './problem.js';
import type { Reply, Route, RouteContext } from './route.js';
import { checkInput } from './validation.js';

/**
 * Puts the route table on fastify: each route with its schema and role config, its handler called
 * with the caller's view of the store once the input passed; and for every known path, the
 * methods it does not have as 405 (hidden from the OpenAPI document).
 */
export function mountRoutes(app: FastifyInstance, deps: ControlDeps, routes: readonly Route[]): void {
  for (const r of routes) mount(app, deps, r);
  for (const [path, methods] of methodsByPath(routes)) {
    const others = app.supportedMethods.filter((m) => !methods.has(m) && !(m === 'HEAD' && methods.has('GET')));
    app.route({ method: others, url: path, schema: { hide: true }, handler: async () => Promise.reject(new ControlError('CTL_METHOD_NOT_ALLOWED')) });
  }
}

function mount(app: FastifyInstance, deps: ControlDeps, r: Route): void {
  app.route({
    method: r.method,
    url: r.path,
    schema: routeSchema(r),
    config: { control: { roles: r.roles, operationId: r.operationId, mutating: r.mutating } },
    // Schema problems reach the handler, which adds the route's own checks and reports them all.
    attachValidation: true,
    handler: async (request, reply) => {
      const caller = request.caller;
      if (caller === null) throw new ControlError('CTL_INTERNAL');
      const store = await deps.store.forTenant(caller.tenant);
      const ctx: RouteContext = {
        params: request.params as Record<string, string>,
        query: request.query as Record<string, string | undefined>,
        body: request.body as Record<string, unknown>,
        caller,
        store,
      };
      const failed = request.validationError;
      const errors = failed?.validation as FastifySchemaValidationError[] | undefined;
      const part = failed?.validationContext ?? 'body';
      const refine = r.refine;
      await checkInput(part === 'body' ? ctx.body : ctx.query, errors, part, refine === undefined || part !== 'body' ? undefined : (fields, report) => refine(fields, report, ctx));
      const out = await r.handle(ctx);
      send(reply, out);
      if (r.mutating) deps.logger.info({ actor: caller.actor, operation: r.operationId, status: out.status }, 'control call');
      return reply;
    },
  });
}

function methodsByPath(routes: readonly Route[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const r of routes) {
    const set = out.get(r.path) ?? new Set<string>();
    set.add(r.method);
    out.set(r.path, set);
  }
  return out;
}

function send(reply: FastifyReply, out: Reply): void {
  reply.code(out.status);
  if ('json' in out) void reply.send(out.json);
  else if ('text' in out) void reply.header('content-type', out.contentType).send(out.text);
  else void reply.send();
}
