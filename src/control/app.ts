import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { authHook } from './auth.js';
import type { ControlDeps } from './deps.js';
import { mountRoutes } from './mount.js';
import { swaggerOptions } from './openapi.js';
import { toControlError } from './error-map.js';
import { ControlError } from './problem.js';
import type { Route } from './route.js';
import { COMPONENTS } from './schemas.js';
import { AJV_OPTIONS, MAX_BODY_BYTES, registerBodyParsers } from './validation.js';
import { VIEWER_HEADERS } from './viewer/csp.js';

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
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    if (reply.statusCode !== 204) reply.header('x-content-type-options', 'nosniff');
    // The log viewer's page and assets: a strict CSP and no referrer (viewer/csp.ts).
    if (request.url.startsWith('/ui/')) reply.headers({ ...VIEWER_HEADERS });
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

  mountRoutes(app, deps, routes(() => app.swagger()));
  return app;
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
