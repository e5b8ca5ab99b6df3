import { parseHostPattern } from '../policy/host-pattern.js';
import { findProvider, listProviders } from '../providers/catalog.js';
import { SecretValue } from '../secret-value.js';
import { DEFAULT_ENVIRONMENT, type SchemeSpec, type SecretInfo } from '../model/secrets.js';
import type { AsyncStore } from '../store/store-api.js';
import { checkLabel, checkName } from '../store/validate.js';
import { formatSchemeSpec, parseSchemeSpec } from '../swap/scheme-spec.js';
import { Type } from '@sinclair/typebox';
import { ControlError } from './problem.js';
import { route, type Route } from './route.js';
import { Provider, RevealedSecret, Ref, Secret } from './schemas.js';
import type { ProviderMeta, SecretMeta } from './wire.js';

const Environment = Type.Optional(Type.String({ maxLength: 32, description: 'the environment (default: default)' }));

const CREATE_SECRET = Type.Object(
  {
    name: Type.String({ maxLength: 63, description: 'secret name (case-insensitive), 1-63 of [A-Za-z0-9._-]' }),
    value: Type.String({ maxLength: 16 * 1024, writeOnly: true, description: 'the real credential; write-only, never returned' }),
    provider: Type.Optional(Type.String({ maxLength: 64, description: 'provider preset id (see GET /v1/providers): fills scheme and hosts' })),
    hosts: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 64, description: 'host patterns the value may be sent to (required without provider)' })),
    scheme: Type.Optional(Type.String({ maxLength: 300, description: "bearer | basic[:USER] | header:NAME[=TEMPLATE] | query:NAME, or a comma list (default: the provider's, else bearer)" })),
    environment: Type.Optional(Type.String({ maxLength: 32, description: 'the environment this first value is for (default: default)' })),
  },
  { additionalProperties: false },
);

const ENVIRONMENT = Type.Object({ environment: Environment }, { additionalProperties: false });

const ROTATE_SECRET = Type.Object(
  { value: Type.String({ maxLength: 16 * 1024, writeOnly: true, description: 'the new value; write-only' }), environment: Environment },
  { additionalProperties: false },
);

const REVEAL_SECRET = Type.Object(
  { reason: Type.String({ maxLength: 500, description: 'why the value is needed (8-500 characters); kept in the audit trail' }), environment: Environment },
  { additionalProperties: false },
);

function checkEnvironment(value: string | undefined, report: (field: string, message: string) => void): void {
  try {
    checkLabel('environment', value, DEFAULT_ENVIRONMENT);
  } catch (e) {
    report('environment', e instanceof Error ? e.message : 'is invalid');
  }
}

export function secretMeta(s: SecretInfo): SecretMeta {
  return {
    id: s.id,
    name: s.name,
    scheme: formatSchemeSpec(s.scheme),
    hosts: s.hosts,
    provider: s.provider,
    tenant: s.tenant,
    currentVersion: s.currentVersion,
    versions: s.versions,
    environments: s.environments.map((e) => ({ name: e.name, currentVersion: e.currentVersion, versions: e.versions })),
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
  };
}

function providerMeta(p: ReturnType<typeof listProviders>[number]): ProviderMeta {
  return { id: p.id, name: p.name, scheme: formatSchemeSpec(p.scheme), hosts: p.hosts, env: p.env, tokenPrefix: p.tokenPrefix, docs: p.docs };
}

async function requireSecret(store: AsyncStore, name: string | undefined): Promise<SecretInfo> {
  const s = await store.getSecret(name ?? '');
  if (s === undefined) throw new ControlError('CTL_NOT_FOUND', 'no such secret');
  return s;
}

/**
 * Scheme, hosts and provider from the body, a provider's preset filling what is not given.
 * Problems go to `report` when given (validation), else throw.
 */
function secretShape(
  b: { provider?: string | undefined; hosts?: string[] | undefined; scheme?: string | undefined },
  report?: (field: string, message: string) => void,
): { scheme: SchemeSpec; hosts: string[]; provider: string | null } {
  const problems: { field: string; message: string }[] = [];
  const attempt = <T>(field: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      problems.push({ field, message: e instanceof Error && e.name === 'UsageError' ? e.message : 'is invalid' });
      return undefined;
    }
  };
  const preset = b.provider === undefined ? undefined : findProvider(b.provider);
  if (b.provider !== undefined && preset === undefined) problems.push({ field: 'provider', message: 'unknown provider (see GET /v1/providers)' });
  const scheme = b.scheme !== undefined ? attempt('scheme', () => parseSchemeSpec(b.scheme ?? '')) : (preset?.scheme ?? { kind: 'bearer' as const });
  let hosts: string[] = [];
  if (b.hosts !== undefined) {
    hosts = b.hosts.map((h) => h.trim()).filter((h) => h !== '');
    if (hosts.length === 0) problems.push({ field: 'hosts', message: 'needs at least one host pattern' });
    for (const h of hosts) attempt('hosts', () => parseHostPattern(h));
  } else if (preset !== undefined) {
    hosts = [...preset.hosts];
  } else if (b.provider === undefined) {
    problems.push({ field: 'hosts', message: 'is required without a provider' });
  }
  if (report !== undefined) for (const p of problems) report(p.field, p.message);
  else if (problems.length > 0 || scheme === undefined) throw new ControlError('CTL_INVALID', problems.map((p) => `${p.field} ${p.message}`).join('; '), problems);
  return { scheme: scheme ?? { kind: 'bearer' }, hosts, provider: preset?.id ?? null };
}

function checkSecretName(name: string | undefined, report: (field: string, message: string) => void): void {
  if (name === undefined) return;
  try {
    checkName('secret', name);
  } catch (e) {
    report('name', e instanceof Error && e.name === 'UsageError' ? e.message : 'is invalid');
  }
}

export function secretRoutes(): Route[] {
  return [
    route({
      method: 'GET', path: '/v1/providers', roles: ['admin', 'operator', 'auditor'], operationId: 'listProviders',
      summary: 'Provider presets (scheme, hosts, env var, token prefix)', success: { status: 200, schema: Ref(Provider), array: true }, mutating: false,
      handle: () => ({ status: 200, json: listProviders().map(providerMeta) }),
    }),
    route({
      method: 'GET', path: '/v1/secrets', roles: ['admin', 'operator'], operationId: 'listSecrets',
      summary: 'List secrets (metadata only, never values)', success: { status: 200, schema: Ref(Secret), array: true }, mutating: false,
      handle: async (ctx) => ({ status: 200, json: (await ctx.store.listSecrets()).map(secretMeta) }),
    }),
    route({
      method: 'POST', path: '/v1/secrets', roles: ['admin'], operationId: 'createSecret', body: CREATE_SECRET,
      summary: 'Create a secret scoped to hosts; the value is write-only', success: { status: 201, schema: Ref(Secret) }, mutating: true,
      refine: (f, report) => {
        checkSecretName(f.name, report);
        secretShape(f, report);
        if (f.environment !== undefined) checkEnvironment(f.environment, report);
      },
      handle: async (ctx) => {
        const b = ctx.body;
        const shape = secretShape(b);
        if ((await ctx.store.getSecret(b.name)) !== undefined) throw new ControlError('CTL_CONFLICT', 'a secret with this name exists');
        const info = await ctx.store.createSecret({
          name: b.name,
          ...shape,
          value: new SecretValue(b.value),
          actor: ctx.caller.actor,
          ...(b.environment !== undefined ? { environment: b.environment } : {}),
        });
        return { status: 201, json: secretMeta(info) };
      },
    }),
    route({
      method: 'GET', path: '/v1/secrets/:name', roles: ['admin', 'operator'], operationId: 'getSecret',
      summary: 'One secret\'s metadata and kept versions', success: { status: 200, schema: Ref(Secret) }, mutating: false,
      handle: async (ctx) => ({ status: 200, json: secretMeta(await requireSecret(ctx.store, ctx.params.name)) }),
    }),
    route({
      method: 'POST', path: '/v1/secrets/:name/rotate', roles: ['admin', 'operator'], operationId: 'rotateSecret', body: ROTATE_SECRET,
      summary: 'Add a version with a new value for one environment (its first, or the next) and make it current', success: { status: 200, schema: Ref(Secret) }, mutating: true,
      refine: (f, report) => {
        if (f.environment !== undefined) checkEnvironment(f.environment, report);
      },
      handle: async (ctx) => {
        const b = ctx.body;
        const s = await requireSecret(ctx.store, ctx.params.name);
        await ctx.store.rotateSecret(s.name, new SecretValue(b.value), ctx.caller.actor, b.environment !== undefined ? { environment: b.environment } : {});
        return { status: 200, json: secretMeta(await requireSecret(ctx.store, s.name)) };
      },
    }),
    route({
      method: 'POST', path: '/v1/secrets/:name/rollback', roles: ['admin', 'operator'], operationId: 'rollbackSecret', body: ENVIRONMENT,
      summary: 'Make the environment\'s previous kept version current again', success: { status: 200, schema: Ref(Secret) }, mutating: true,
      refine: (f, report) => {
        if (f.environment !== undefined) checkEnvironment(f.environment, report);
      },
      handle: async (ctx) => {
        const s = await requireSecret(ctx.store, ctx.params.name);
        await ctx.store.rollbackSecret(s.name, ctx.caller.actor, ctx.body.environment);
        return { status: 200, json: secretMeta(await requireSecret(ctx.store, s.name)) };
      },
    }),
    route({
      method: 'POST', path: '/v1/secrets/:name/reveal', roles: ['admin', 'operator', 'auditor'], operationId: 'revealSecret', body: REVEAL_SECRET,
      summary: 'Break glass: the current value, for an API key granted the reveal permission; always audited', success: { status: 200, schema: Ref(RevealedSecret) }, mutating: true,
      refine: (f, report) => {
        if (f.reason !== undefined && f.reason.trim().length < 8) report('reason', 'must say why, in at least 8 characters');
        if (f.environment !== undefined) checkEnvironment(f.environment, report);
      },
      handle: async (ctx) => {
        const b = ctx.body;
        const environment = checkLabel('environment', b.environment, DEFAULT_ENVIRONMENT);
        const reason = b.reason.trim().replace(/[\u0000-\u001f\u007f]/g, ' ');
        const s = await ctx.store.getSecret(ctx.params.name ?? '');
        const version = s?.environments.find((e) => e.name === environment)?.currentVersion;
        // Every attempt is recorded, allowed or not, before anything else can fail.
        const allowed = ctx.caller.canReveal && version !== undefined;
        const target = s?.name ?? String(ctx.params.name).replace(/[^\x21-\x7e]/g, '?').slice(0, 63);
        await ctx.store.audit(ctx.caller.actor, 'secret.reveal', target, {
          reason,
          environment,
          ...(version !== undefined ? { version } : {}),
          ...(s === undefined ? { exists: false } : {}),
          allowed,
        });
        if (!ctx.caller.canReveal) {
          throw new ControlError('CTL_FORBIDDEN', 'this API key has no reveal permission (granted only with `standin apikey create --allow-reveal`)');
        }
        if (s === undefined) throw new ControlError('CTL_NOT_FOUND', 'no such secret');
        if (version === undefined) throw new ControlError('CTL_NOT_FOUND', 'the secret has no value in this environment');
        const value = (await ctx.store.secretValue(s.id, version)).expose();
        return { status: 200, json: { name: s.name, environment, version, value } };
      },
    }),
    route({
      method: 'DELETE', path: '/v1/secrets/:name', roles: ['admin'], operationId: 'deleteSecret',
      summary: 'Delete a secret, its versions and every binding that uses it', success: { status: 204 }, mutating: true,
      handle: async (ctx) => {
        const s = await requireSecret(ctx.store, ctx.params.name);
        await ctx.store.deleteSecret(s.name, ctx.caller.actor);
        return { status: 204 };
      },
    }),
  ];
}
