import { parseHostPattern } from '../policy/host-pattern.js';
import { findProvider, listProviders } from '../providers/catalog.js';
import { SecretValue } from '../secret-value.js';
import type { SchemeSpec, SecretInfo } from '../store/types.js';
import { checkName } from '../store/validate.js';
import { formatSchemeSpec, parseSchemeSpec } from '../swap/scheme-spec.js';
import { readJson, validate, type BodySpec } from './body.js';
import type { ControlDeps } from './deps.js';
import { ControlError } from './problem.js';
import type { Route } from './router.js';
import type { ProviderMeta, SecretMeta } from './wire.js';

const CREATE_SECRET = {
  name: { type: 'string', required: true, description: 'secret name (case-insensitive), 1-63 of [A-Za-z0-9._-]', max: 63 },
  value: { type: 'string', required: true, description: 'the real credential; write-only, never returned', max: 16 * 1024, writeOnly: true },
  provider: { type: 'string', required: false, description: 'provider preset id (see GET /v1/providers): fills scheme and hosts', max: 64 },
  hosts: { type: 'string[]', required: false, description: 'host patterns the value may be sent to (required without provider)', max: 64 },
  scheme: { type: 'string', required: false, description: 'bearer | basic | header:NAME | query:NAME (default: the provider\'s, else bearer)', max: 80 },
} as const satisfies BodySpec;

const ROTATE_SECRET = {
  value: { type: 'string', required: true, description: 'the new value; write-only', max: 16 * 1024, writeOnly: true },
} as const satisfies BodySpec;

export function secretMeta(s: SecretInfo): SecretMeta {
  return {
    id: s.id,
    name: s.name,
    scheme: formatSchemeSpec(s.scheme),
    hosts: s.hosts,
    provider: s.provider,
    currentVersion: s.currentVersion,
    versions: s.versions,
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
  };
}

function providerMeta(p: ReturnType<typeof listProviders>[number]): ProviderMeta {
  return { id: p.id, name: p.name, scheme: formatSchemeSpec(p.scheme), hosts: p.hosts, env: p.env, tokenPrefix: p.tokenPrefix, docs: p.docs };
}

function requireSecret(deps: ControlDeps, name: string | undefined): SecretInfo {
  const s = deps.store.getSecret(name ?? '');
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

export function secretRoutes(deps: ControlDeps): Route[] {
  return [
    {
      method: 'GET', path: '/v1/providers', roles: ['admin', 'operator', 'auditor'], operationId: 'listProviders',
      summary: 'Provider presets (scheme, hosts, env var, token prefix)', success: { status: 200, schema: 'Provider', array: true }, mutating: false,
      handle: () => ({ status: 200, json: listProviders().map(providerMeta) }),
    },
    {
      method: 'GET', path: '/v1/secrets', roles: ['admin', 'operator'], operationId: 'listSecrets',
      summary: 'List secrets (metadata only, never values)', success: { status: 200, schema: 'Secret', array: true }, mutating: false,
      handle: () => ({ status: 200, json: deps.store.listSecrets().map(secretMeta) }),
    },
    {
      method: 'POST', path: '/v1/secrets', roles: ['admin'], operationId: 'createSecret', body: CREATE_SECRET,
      summary: 'Create a secret scoped to hosts; the value is write-only', success: { status: 201, schema: 'Secret' }, mutating: true,
      handle: async (ctx) => {
        const b = validate(await readJson(ctx.req), CREATE_SECRET, (f, report) => {
          checkSecretName(f.name, report);
          secretShape(f, report);
        });
        const shape = secretShape(b);
        if (deps.store.getSecret(b.name) !== undefined) throw new ControlError('CTL_CONFLICT', 'a secret with this name exists');
        const info = deps.store.createSecret({ name: b.name, ...shape, value: new SecretValue(b.value), actor: ctx.caller.actor });
        return { status: 201, json: secretMeta(info) };
      },
    },
    {
      method: 'GET', path: '/v1/secrets/{name}', roles: ['admin', 'operator'], operationId: 'getSecret',
      summary: 'One secret\'s metadata and kept versions', success: { status: 200, schema: 'Secret' }, mutating: false,
      handle: (ctx) => ({ status: 200, json: secretMeta(requireSecret(deps, ctx.params.name)) }),
    },
    {
      method: 'POST', path: '/v1/secrets/{name}/rotate', roles: ['admin', 'operator'], operationId: 'rotateSecret', body: ROTATE_SECRET,
      summary: 'Add a version with a new value and make it current', success: { status: 200, schema: 'Secret' }, mutating: true,
      handle: async (ctx) => {
        const b = validate(await readJson(ctx.req), ROTATE_SECRET);
        const s = requireSecret(deps, ctx.params.name);
        deps.store.rotateSecret(s.name, new SecretValue(b.value), ctx.caller.actor);
        return { status: 200, json: secretMeta(requireSecret(deps, s.name)) };
      },
    },
    {
      method: 'POST', path: '/v1/secrets/{name}/rollback', roles: ['admin', 'operator'], operationId: 'rollbackSecret', body: {},
      summary: 'Make the previous kept version current again', success: { status: 200, schema: 'Secret' }, mutating: true,
      handle: async (ctx) => {
        validate(await readJson(ctx.req), {});
        const s = requireSecret(deps, ctx.params.name);
        deps.store.rollbackSecret(s.name, ctx.caller.actor);
        return { status: 200, json: secretMeta(requireSecret(deps, s.name)) };
      },
    },
    {
      method: 'DELETE', path: '/v1/secrets/{name}', roles: ['admin'], operationId: 'deleteSecret',
      summary: 'Delete a secret, its versions and every binding that uses it', success: { status: 204 }, mutating: true,
      handle: (ctx) => {
        const s = requireSecret(deps, ctx.params.name);
        deps.store.deleteSecret(s.name, ctx.caller.actor);
        return { status: 204 };
      },
    },
  ];
}
