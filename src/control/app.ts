import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifySchemaValidationError } from 'fastify';
import { UsageError } from '../errors.js';
import { authHook } from './auth.js';
import type { ControlDeps } from './deps.js';
import { routeSchema, swaggerOptions } from './openapi.js';
import { ControlError } from './problem.js';
import type { Reply, Route, RouteContext } from './route.js';
import { COMPONENTS } from './schemas.js';
import { AJV_OPTIONS, checkInput, MAX_BODY_BYTES, registerBodyParsers } from './validation.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'] as const;

/**
 * The control API as a fastify instance, not yet listening (server.ts binds it): routes with
 * their schemas, authentication as one hook, every refusal as application/problem+json.
 */
export async function buildControlApp(deps: ControlDeps, unix: boolean, version: string, routes: (openapi: () => unknown) => Route[]): Promise<FastifyInstance> {
  const app = Fastify({
    // Our own node server: its header size and timeouts; fastify's request handler.
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void): Server => {
      const server = createServer({ maxHeaderSize: 16 * 1024, insecureHTTPParser: false, headersTimeout: 10_000 }, handler);
      server.maxConnections = 256;
      return server;
    },
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    bodyLimit: MAX_BODY_BYTES,
    // Calls are logged by us (below), with our fields and never a URL's query or a body.
    logger: false,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 1024 },
    ajv: { customOptions: AJV_OPTIONS },
    frameworkErrors: (err, request, reply) => {
      const e = err.code === 'FST_ERR_BAD_URL' ? new ControlError('CTL_INVALID', 'malformed percent-encoding in the path') : toControlError(err);
      sendProblem(request, reply, e);
    },
    clientErrorHandler: (_err: Error, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    },
  });
  await app.register(swagger, swaggerOptions(version));
  for (const schema of COMPONENTS) app.addSchema(schema);
  registerBodyParsers(app);
  app.decorateRequest('caller', null);
  app.addHook('onRequest', authHook(deps.apiKeys, unix));
  // No body is an empty object, so that a missing field is "is required", not "body must be object".
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined) request.body = {};
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    if (reply.statusCode !== 204) reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const operation = request.routeOptions.config.control?.operationId ?? 'unmatched';
    deps.metrics.observeControl(operation, reply.statusCode);
    deps.logger.debug({ operation, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'control request');
  });
  app.setErrorHandler((err: unknown, request, reply) => {
    const e = toControlError(err);
    const operation = request.routeOptions.config.control?.operationId ?? 'unmatched';
    if (e.code === 'CTL_INTERNAL') deps.logger.error({ err, operation }, 'control call failed');
    else deps.logger.debug({ operation, status: e.status, code: e.code, actor: request.caller?.actor }, 'control call refused');
    sendProblem(request, reply, e);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, new ControlError('CTL_NOT_FOUND')));

  const table = routes(() => app.swagger());
  for (const r of table) mount(app, deps, r);
  for (const [path, methods] of methodsByPath(table)) {
    // A known path with another method is 405, before anyone is asked for a key.
    const others = METHODS.filter((m) => !methods.has(m) && !(m === 'HEAD' && methods.has('GET')));
    app.route({ method: others, url: path, schema: { hide: true }, handler: async () => Promise.reject(new ControlError('CTL_METHOD_NOT_ALLOWED')) });
  }
  return app;
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
      const store = deps.store.forTenant(caller.tenant);
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
      checkInput(part === 'body' ? ctx.body : ctx.query, errors, part, refine === undefined || part !== 'body' ? undefined : (fields, report) => refine(fields, report, ctx));
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

function sendProblem(request: FastifyRequest, reply: FastifyReply, err: ControlError): void {
  if (reply.sent) {
    request.raw.destroy();
    return;
  }
  // Headers of onSend set here too: fastify's bad-URL path skips the hooks.
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
  if (err.code === 'CTL_UNAUTHORIZED') headers['www-authenticate'] = 'Bearer realm="standin"';
  // An unread body would otherwise be parsed as the next request on this connection.
  if (!request.raw.complete) headers.connection = 'close';
  // A Buffer: fastify would append `; charset=utf-8` to a string's JSON media type.
  void reply.code(err.status).headers(headers).send(Buffer.from(JSON.stringify(err.toProblem())));
}

/** Ours keep their message; the store's UsageErrors are mapped by what they say; fastify's by code. */
export function toControlError(e: unknown): ControlError {
  if (e instanceof ControlError) return e;
  if (e instanceof UsageError) {
    if (/^no (secret|sandbox|API key|tenant) named/.test(e.message) || / has no binding for /.test(e.message)) return new ControlError('CTL_NOT_FOUND', e.message);
    if (/ already exists$/.test(e.message)) return new ControlError('CTL_CONFLICT', e.message);
    return new ControlError('CTL_INVALID', e.message);
  }
  const code = (e as Partial<FastifyError> | null)?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ControlError('CTL_BODY_TOO_LARGE', `at most ${MAX_BODY_BYTES} bytes`);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ControlError('CTL_UNSUPPORTED_MEDIA_TYPE');
  if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || code === 'FST_ERR_BAD_URL') return new ControlError('CTL_INVALID');
  return new ControlError('CTL_INTERNAL');
}
