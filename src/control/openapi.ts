import type { BodySpec, FieldSpec } from './body.js';
import { controlCodes } from './problem.js';
import type { Route } from './router.js';

/**
 * The OpenAPI 3.1 description, built from the route table (paths, roles, bodies, queries) plus the
 * response schemas below, so that what is documented is what is enforced.
 */
const str = { type: 'string' };
const strs = { type: 'array', items: str };
const int = { type: 'integer' };
const iso = { type: 'string', format: 'date-time' };

const SCHEMAS: Record<string, unknown> = {
  Health: { type: 'object', properties: { status: str, proxy: { type: 'boolean' }, database: { type: 'boolean' } }, required: ['status'] },
  Provider: {
    type: 'object',
    properties: { id: str, name: str, scheme: str, hosts: strs, env: str, tokenPrefix: str, docs: str },
    required: ['id', 'name', 'scheme', 'hosts', 'env', 'tokenPrefix', 'docs'],
  },
  Secret: {
    type: 'object',
    description: 'Metadata only: a value is never returned.',
    properties: {
      id: str, name: str, tenant: str, scheme: str, hosts: strs, provider: { type: ['string', 'null'] },
      currentVersion: { type: ['integer', 'null'], description: 'current version in the environment default; null when it has no value there' },
      versions: { type: 'array', items: int, description: 'kept versions of every environment (one sequence per secret)' },
      environments: { type: 'array', items: { $ref: '#/components/schemas/SecretEnvironment' } },
      createdAt: iso, updatedAt: iso,
    },
    required: ['id', 'name', 'tenant', 'scheme', 'hosts', 'provider', 'currentVersion', 'versions', 'environments', 'createdAt', 'updatedAt'],
  },
  SecretEnvironment: {
    type: 'object',
    properties: { name: str, currentVersion: int, versions: { type: 'array', items: int } },
    required: ['name', 'currentVersion', 'versions'],
  },
  RevealedSecret: {
    type: 'object',
    description: 'Break glass: the real value. Only for API keys granted the reveal permission; every call is audited.',
    properties: { name: str, environment: str, version: int, value: str },
    required: ['name', 'environment', 'version', 'value'],
  },
  Binding: { type: 'object', properties: { env: str, secret: str }, required: ['env', 'secret'] },
  Sandbox: {
    type: 'object',
    properties: { name: str, tenant: str, environment: str, allowHosts: strs, bindings: { type: 'array', items: { $ref: '#/components/schemas/Binding' } }, createdAt: iso },
    required: ['name', 'tenant', 'environment', 'allowHosts', 'bindings', 'createdAt'],
  },
  SandboxEnv: {
    type: 'object',
    description: 'Env vars to start the sandbox with: stand-in tokens under their names, HTTPS_PROXY/HTTP_PROXY (with the sandbox\'s proxy credential), NO_PROXY, and CA trust variables. Treat as sensitive: it authenticates as the sandbox.',
    additionalProperties: str,
  },
  SandboxCreated: {
    allOf: [{ $ref: '#/components/schemas/Sandbox' }, { type: 'object', properties: { env: { $ref: '#/components/schemas/SandboxEnv' } }, required: ['env'] }],
  },
  LogRow: {
    type: 'object',
    properties: {
      id: int, requestId: str, at: { type: 'integer', description: 'epoch ms' }, tenant: { type: ['string', 'null'] }, sandbox: { type: ['string', 'null'] }, method: str,
      scheme: { enum: ['https', 'http'] }, host: str, port: int, path: str, status: int,
      decision: { enum: ['allowed', 'swapped', 'denied', 'token_misuse', 'error'] }, secrets: strs, bytesIn: int, bytesOut: int,
      durationMs: int, upstreamIp: { type: ['string', 'null'] }, errorCode: { type: ['string', 'null'] },
    },
  },
  AuditEntry: { type: 'object', properties: { id: int, at: iso, tenant: str, actor: str, action: str, target: str, detail: { type: 'object' } } },
  Problem: {
    type: 'object',
    properties: {
      type: str, title: str, status: int, code: { enum: Object.keys(controlCodes()) }, detail: str,
      problems: { type: 'array', items: { type: 'object', properties: { field: str, message: str } } },
    },
    required: ['type', 'title', 'status', 'code'],
  },
};

function fieldSchema(f: FieldSpec): Record<string, unknown> {
  const base: Record<string, unknown> =
    f.type === 'string' ? { type: 'string', maxLength: f.max ?? 1024 } : f.type === 'string[]' ? { type: 'array', items: str, maxItems: f.max ?? 1024 } : { type: 'object', additionalProperties: str, maxProperties: f.max ?? 1024 };
  if (f.writeOnly === true) base.writeOnly = true;
  return { ...base, description: f.description };
}

function bodySchema(spec: BodySpec): Record<string, unknown> {
  const required = Object.entries(spec).filter(([, f]) => f.required).map(([k]) => k);
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(Object.entries(spec).map(([k, f]) => [k, fieldSchema(f)])),
    ...(required.length > 0 ? { required } : {}),
  };
}

const problemRef = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

export function buildOpenApi(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: str }));
    const query = Object.entries(r.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: str }));
    const ok = r.success;
    const okContent =
      ok.status === 204
        ? undefined
        : ok.schema !== undefined
          ? { 'application/json': { schema: ok.array === true ? { type: 'array', items: { $ref: `#/components/schemas/${ok.schema}` } } : { $ref: `#/components/schemas/${ok.schema}` } } }
          : { [ok.media ?? 'application/json']: {} };
    const responses: Record<string, unknown> = { [String(ok.status)]: okContent === undefined ? { description: 'done' } : { description: 'success', content: okContent } };
    responses['4XX'] = { description: 'refused; see `code`', content: problemRef };
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      description: r.roles === 'public' ? 'No API key needed.' : `Roles: ${r.roles.join(', ')}.`,
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(r.body !== undefined && Object.keys(r.body).length > 0 ? { requestBody: { required: true, content: { 'application/json': { schema: bodySchema(r.body) } } } } : {}),
      responses,
      ...(r.roles === 'public' ? { security: [] } : {}),
    };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'standin control API',
      version,
      description:
        'Drives a standin gateway from a sandbox runtime\'s sidecar. On the unix socket every call acts as admin of the tenant named by a `Standin-Tenant` header (default: `default`); on TCP each call needs `Authorization: Bearer <API key>` (`standin --tenant T apikey create`) and reaches only that key\'s tenant. Values go in, never out, except `POST /v1/secrets/{name}/reveal` for keys granted break-glass (`--allow-reveal`), always audited. Errors are application/problem+json with a stable `code`.',
    },
    components: { schemas: SCHEMAS, securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
    security: [{ apiKey: [] }],
    paths,
  };
}
