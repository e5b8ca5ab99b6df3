import { isIP } from 'node:net';
import { checkBindings, type BindingCheck } from '../sandbox-env/check.js';
import { checkProxyAddress, sandboxEnv } from '../sandbox-env/env.js';
import { parseHostPattern } from '../policy/host-pattern.js';
import { tokenPrefixFor as tokenPrefixOf } from '../providers/catalog.js';
import { DEFAULT_ENVIRONMENT, type SandboxInfo } from '../model/secrets.js';
import type { AsyncStore } from '../store/store-api.js';
import { checkEnv, checkLabel, checkName } from '../store/validate.js';
import { Type, type Static } from '@sinclair/typebox';
import type { ControlDeps } from './deps.js';
import { querySchema } from './openapi.js';
import { ControlError } from './problem.js';
import { route, type Route } from './route.js';
import { Ref, Sandbox, SandboxCreated, SandboxEnv } from './schemas.js';
import type { Assignable, Check } from './schemas-log.js';
import type { SandboxMeta } from './wire.js';

const CHECK = Type.Object(
  {
    proxy: Type.Optional(Type.String({ maxLength: 300, description: 'HOST:PORT of the gateway to test through (default: where the proxy listens)' })),
    caFile: Type.Optional(Type.String({ maxLength: 4096, description: "the CA bundle the sandbox's trust variables point at (default: the home's bundle)" })),
  },
  { additionalProperties: false },
);
const CHECK_REPORT = Type.Object({
  sandbox: Type.String(),
  ok: Type.Boolean(),
  bindings: Type.Array(
    Type.Object({
      env: Type.String(),
      secret: Type.String(),
      scheme: Type.String(),
      host: Type.String(),
      swapped: Type.Boolean(),
      applied: Type.Array(Type.Object({ secret: Type.String(), version: Type.Integer(), placement: Type.String() })),
      caTrusted: Type.Boolean(),
      problem: Type.Optional(Type.String()),
      code: Type.Optional(Type.String()),
      requestId: Type.Optional(Type.String()),
    }),
  ),
}, { description: 'Per binding: whether the gateway would apply the credential and where, and whether the CA bundle trusts it.' });

type CheckedBinding = Static<typeof CHECK_REPORT>['bindings'][number];
// The probe's result and the reply schema stay one shape: a field added to either fails the build.
export type CheckReportMatches = [Check<Assignable<BindingCheck, CheckedBinding>>, Check<Assignable<CheckedBinding, BindingCheck>>];

const PROXY_DESCRIPTION = 'HOST:PORT the sandbox reaches the gateway at (default: where the proxy listens)';

const CREATE_SANDBOX = Type.Object(
  {
    name: Type.String({ maxLength: 63, description: 'sandbox name (case-insensitive)' }),
    secrets: Type.Optional(Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string', maxLength: 1024 }, maxProperties: 128, description: 'bindings: env var name -> secret name' })),
    allowHosts: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 256, description: 'egress policy: host patterns the sandbox may reach (empty: any public host)' })),
    environment: Type.Optional(Type.String({ maxLength: 32, description: 'the environment whose values of its secrets the sandbox gets (default: default); fixed for its life' })),
    proxy: Type.Optional(Type.String({ maxLength: 300, description: PROXY_DESCRIPTION })),
    caFile: Type.Optional(Type.String({ maxLength: 1024, description: "path of the CA bundle as the sandbox sees it (default: the bundle in the gateway's home)" })),
  },
  { additionalProperties: false },
);

const BIND = Type.Object({ secret: Type.String({ maxLength: 63, description: 'name of the secret to bind' }) }, { additionalProperties: false });

const ENV_QUERY = querySchema({
  proxy: Type.String({ description: PROXY_DESCRIPTION }),
  caFile: Type.String({ description: 'path of the CA bundle as the sandbox sees it' }),
});

/** A wildcard listen address is not something a client can connect to: use loopback instead. */
export function connectableProxy(address: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  const host = m?.[1] ?? m?.[2];
  if (host === '0.0.0.0') return `127.0.0.1:${m?.[3]}`;
  if (host === '::' && isIP(host) === 6) return `[::1]:${m?.[3]}`;
  return address;
}

export function sandboxRoutes(deps: ControlDeps): Route[] {
  const requireSandbox = async (store: AsyncStore, name: string | undefined): Promise<SandboxInfo> => {
    const s = await store.getSandbox(name ?? '');
    if (s === undefined) throw new ControlError('CTL_NOT_FOUND', 'no such sandbox');
    return s;
  };
  const meta = async (store: AsyncStore, s: SandboxInfo): Promise<SandboxMeta> => ({
    name: s.name,
    tenant: s.tenant,
    environment: s.environment,
    allowHosts: s.allowHosts,
    bindings: (await store.listBindings(s.name)).map((b) => ({ env: b.env, secret: b.secretName })),
    createdAt: new Date(s.createdAt).toISOString(),
  });
  const env = async (store: AsyncStore, name: string, o: { proxy?: string | undefined; caFile?: string | undefined }): Promise<Record<string, string>> => {
    let proxy: string;
    if (o.proxy !== undefined) {
      try {
        proxy = checkProxyAddress(o.proxy);
      } catch {
        throw new ControlError('CTL_INVALID', 'proxy must be HOST:PORT', [{ field: 'proxy', message: 'must be HOST:PORT' }]);
      }
    } else {
      const listening = deps.proxyAddress();
      if (listening === undefined) throw new ControlError('CTL_NOT_READY', 'the proxy is not listening yet');
      proxy = connectableProxy(listening);
    }
    if (o.caFile !== undefined && (!o.caFile.startsWith('/') || /[\u0000-\u001f\u007f]/.test(o.caFile))) {
      throw new ControlError('CTL_INVALID', 'caFile must be an absolute path', [{ field: 'caFile', message: 'must be an absolute path' }]);
    }
    return sandboxEnv({
      sandbox: name,
      proxyKey: await store.proxyKey(name),
      bindings: await store.listBindings(name),
      proxy,
      caBundle: o.caFile ?? deps.caBundlePath,
    });
  };
  // A secret made from a provider preset gets tokens shaped like that provider's keys.
  const tokenPrefixFor = async (store: AsyncStore, secretName: string): Promise<string | undefined> => {
    const secret = await store.getSecret(secretName);
    if (secret === undefined) throw new ControlError('CTL_INVALID', `no secret named '${printable(secretName)}'`, [{ field: 'secrets', message: 'names an unknown secret' }]);
    const prefix = tokenPrefixOf(secret.provider);
    return prefix === '' ? undefined : prefix;
  };

  return [
    route({
      method: 'GET', path: '/v1/sandboxes', roles: ['admin', 'operator'], operationId: 'listSandboxes',
      summary: 'List sandboxes and their bindings (no tokens)', success: { status: 200, schema: Ref(Sandbox), array: true }, mutating: false,
      handle: async (ctx) => ({ status: 200, json: await Promise.all((await ctx.store.listSandboxes()).map((s) => meta(ctx.store, s))) }),
    }),
    route({
      method: 'POST', path: '/v1/sandboxes', roles: ['admin', 'operator'], operationId: 'createSandbox', body: CREATE_SANDBOX,
      summary: 'Create a sandbox with bindings; returns the environment to start it with', success: { status: 201, schema: Ref(SandboxCreated) }, mutating: true,
      refine: async (f, report, ctx) => {
        const attempt = (field: string, check: () => unknown): void => {
          try {
            check();
          } catch (e) {
            report(field, e instanceof Error && e.name === 'UsageError' ? e.message : 'is invalid');
          }
        };
        if (f.name !== undefined) attempt('name', () => checkName('sandbox', f.name ?? ''));
        for (const h of f.allowHosts ?? []) attempt('allowHosts', () => parseHostPattern(h));
        if (f.environment !== undefined) attempt('environment', () => checkLabel('environment', f.environment, DEFAULT_ENVIRONMENT));
        for (const [envName, secretName] of Object.entries(f.secrets ?? {})) {
          attempt('secrets', () => checkEnv(envName));
          if ((await ctx.store.getSecret(secretName)) === undefined) report('secrets', `no secret named '${printable(secretName)}'`);
        }
      },
      handle: async (ctx) => {
        const b = ctx.body;
        if ((await ctx.store.getSandbox(b.name)) !== undefined) throw new ControlError('CTL_CONFLICT', 'a sandbox with this name exists');
        const bindings = await Promise.all(Object.entries(b.secrets ?? {}).map(async ([envName, secretName]) => ({ env: envName, secretName, tokenPrefix: await tokenPrefixFor(ctx.store, secretName) })));
        const { sandbox } = await ctx.store.createSandbox({
          name: b.name,
          allowHosts: b.allowHosts ?? [],
          bindings,
          actor: ctx.caller.actor,
          ...(b.environment !== undefined ? { environment: b.environment } : {}),
        });
        return { status: 201, json: { ...(await meta(ctx.store, sandbox)), env: await env(ctx.store, sandbox.name, b) } };
      },
    }),
    route({
      method: 'GET', path: '/v1/sandboxes/:name', roles: ['admin', 'operator'], operationId: 'getSandbox',
      summary: 'One sandbox: egress policy and bindings (no tokens)', success: { status: 200, schema: Ref(Sandbox) }, mutating: false,
      handle: async (ctx) => ({ status: 200, json: await meta(ctx.store, await requireSandbox(ctx.store, ctx.params.name)) }),
    }),
    route({
      method: 'GET', path: '/v1/sandboxes/:name/env', roles: ['admin', 'operator'], operationId: 'getSandboxEnv', query: ENV_QUERY,
      summary: 'The environment a sandbox runs with: stand-in tokens, proxy URL with its credential, CA trust', success: { status: 200, schema: Ref(SandboxEnv) }, mutating: false,
      handle: async (ctx) => {
        const s = await requireSandbox(ctx.store, ctx.params.name);
        return { status: 200, json: await env(ctx.store, s.name, ctx.query) };
      },
    }),
    route({
      method: 'POST', path: '/v1/sandboxes/:name/check', roles: ['admin', 'operator'], operationId: 'checkSandbox', body: CHECK,
      summary: "Self-test each binding through the gateway as the sandbox: would the swap happen, where, and does the sandbox's CA trust hold (nothing is forwarded)",
      success: { status: 200, schema: CHECK_REPORT }, mutating: false,
      handle: async (ctx) => {
        const s = await requireSandbox(ctx.store, ctx.params.name);
        const proxy = ctx.body.proxy ?? deps.proxyAddress();
        if (proxy === undefined) throw new ControlError('CTL_NOT_READY', 'the proxy is not listening yet');
        const bindings = [];
        for (const b of await ctx.store.listBindings(s.name)) {
          const secret = await ctx.store.getSecret(b.secretName);
          if (secret !== undefined) bindings.push({ env: b.env, token: b.token, secret });
        }
        const results = await checkBindings({ proxy, sandbox: s.name, proxyKey: await ctx.store.proxyKey(s.name), caBundle: ctx.body.caFile ?? deps.caBundlePath }, bindings);
        return { status: 200, json: { sandbox: s.name, ok: results.every((r) => r.swapped && r.caTrusted), bindings: results } };
      },
    }),
    route({
      method: 'DELETE', path: '/v1/sandboxes/:name', roles: ['admin', 'operator'], operationId: 'deleteSandbox',
      summary: 'Delete a sandbox; its proxy credential and tokens stop working at once', success: { status: 204 }, mutating: true,
      handle: async (ctx) => {
        await ctx.store.deleteSandbox((await requireSandbox(ctx.store, ctx.params.name)).name, ctx.caller.actor);
        return { status: 204 };
      },
    }),
    route({
      method: 'PUT', path: '/v1/sandboxes/:name/bindings/:env', roles: ['admin', 'operator'], operationId: 'bindSecret', body: BIND,
      summary: 'Bind a secret to an env var; a new token replaces any previous one (read it from /env)', success: { status: 200, schema: Ref(Sandbox) }, mutating: true,
      handle: async (ctx) => {
        const s = await requireSandbox(ctx.store, ctx.params.name);
        await ctx.store.bind(s.name, ctx.params.env ?? '', ctx.body.secret, ctx.caller.actor, await tokenPrefixFor(ctx.store, ctx.body.secret));
        return { status: 200, json: await meta(ctx.store, s) };
      },
    }),
    route({
      method: 'DELETE', path: '/v1/sandboxes/:name/bindings/:env', roles: ['admin', 'operator'], operationId: 'unbindSecret',
      summary: 'Remove a binding; its token stops working at once', success: { status: 200, schema: Ref(Sandbox) }, mutating: true,
      handle: async (ctx) => {
        const s = await requireSandbox(ctx.store, ctx.params.name);
        await ctx.store.unbind(s.name, ctx.params.env ?? '', ctx.caller.actor);
        return { status: 200, json: await meta(ctx.store, s) };
      },
    }),
  ];
}

function printable(s: string): string {
  const p = s.replace(/[^\x20-\x7e]/g, '?');
  return p.length > 64 ? `${p.slice(0, 64)}...` : p;
}
