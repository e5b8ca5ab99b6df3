import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { controlCodes } from './problem.js';
import type * as Wire from './wire.js';

/**
 * The JSON Schemas of the control API's replies, shared by every route (fastify `addSchema`), so
 * the same text validates, serialises (a reply carries only the fields declared here) and is
 * published in the OpenAPI document under components/schemas/<$id>.
 */
const Str = Type.String();
const Strs = Type.Array(Str);
const Int = Type.Integer();
const Iso = Type.String({ format: 'date-time' });
const NullableStr = Type.Union([Type.String(), Type.Null()]);

export const DECISIONS = ['allowed', 'swapped', 'denied', 'token_misuse', 'error'] as const;

/** A string one of `values`, as a plain `enum` (what OpenAPI generators read best). */
export function StringEnum<T extends readonly string[]>(values: T, options: { description?: string } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A reference to a component by its $id, typed as the component. */
export function Ref<T extends TSchema>(schema: T): TUnsafe<Static<T>> {
  if (schema.$id === undefined) throw new TypeError('a referenced schema needs an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id));
}

export const Health = Type.Object(
  {
    status: Str,
    proxy: Type.Optional(Type.Boolean()),
    database: Type.Optional(Type.Boolean()),
    // A gateway on PostgreSQL: how old its store snapshot is, and whether swaps are refused for it.
    snapshotAgeSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
    stale: Type.Optional(Type.Boolean()),
  },
  { $id: 'Health' },
);

export const Provider = Type.Object({ id: Str, name: Str, scheme: Str, hosts: Strs, env: Str, tokenPrefix: Str, docs: Str }, { $id: 'Provider' });

export const SecretEnvironment = Type.Object({ name: Str, currentVersion: Int, versions: Type.Array(Int) }, { $id: 'SecretEnvironment' });

export const Secret = Type.Object(
  {
    id: Str,
    name: Str,
    tenant: Str,
    scheme: Str,
    hosts: Strs,
    provider: NullableStr,
    currentVersion: Type.Union([Type.Integer(), Type.Null()], { description: 'current version in the environment default; null when it has no value there' }),
    versions: Type.Array(Int, { description: 'kept versions of every environment (one sequence per secret)' }),
    environments: Type.Array(Ref(SecretEnvironment)),
    createdAt: Iso,
    updatedAt: Iso,
  },
  { $id: 'Secret', description: 'Metadata only: a value is never returned.' },
);

export const RevealedSecret = Type.Object(
  { name: Str, environment: Str, version: Int, value: Str },
  { $id: 'RevealedSecret', description: 'Break glass: the real value. Only for API keys granted the reveal permission; every call is audited.' },
);

export const Binding = Type.Object({ env: Str, secret: Str }, { $id: 'Binding' });

export const Sandbox = Type.Object(
  { name: Str, tenant: Str, environment: Str, allowHosts: Strs, bindings: Type.Array(Ref(Binding)), createdAt: Iso },
  { $id: 'Sandbox' },
);

export const SandboxEnv = Type.Unsafe<Record<string, string>>({
  $id: 'SandboxEnv',
  type: 'object',
  additionalProperties: { type: 'string' },
  description:
    "Env vars to start the sandbox with: stand-in tokens under their names, HTTPS_PROXY/HTTP_PROXY (with the sandbox's proxy credential), NO_PROXY, and CA trust variables. Treat as sensitive: it authenticates as the sandbox.",
});

// Spelled out rather than allOf(Sandbox, ...): the serialiser then has one flat list of fields.
export const SandboxCreated = Type.Object(
  { name: Str, tenant: Str, environment: Str, allowHosts: Strs, bindings: Type.Array(Ref(Binding)), createdAt: Iso, env: Ref(SandboxEnv) },
  { $id: 'SandboxCreated', description: 'A new sandbox and the environment to start it with.' },
);

export const LogRowSchema = Type.Object(
  {
    id: Int,
    requestId: Str,
    at: Type.Integer({ description: 'epoch ms' }),
    tenant: Type.Optional(NullableStr),
    sandbox: NullableStr,
    method: Str,
    scheme: StringEnum(['https', 'http'] as const),
    host: Str,
    port: Int,
    path: Str,
    status: Int,
    decision: StringEnum(DECISIONS),
    secrets: Strs,
    bytesIn: Int,
    bytesOut: Int,
    durationMs: Int,
    upstreamIp: NullableStr,
    errorCode: NullableStr,
    complete: Type.Boolean({ description: 'false: forwarded and not yet ended (or the gateway stopped before it ended)' }),
    gateway: Type.String({ description: "the gateway that wrote the row (gateways of a fleet share one log); '' for rows from before gateway ids" }),
  },
  { $id: 'LogRow' },
);

export const AuditEntrySchema = Type.Object(
  { id: Int, at: Iso, tenant: Str, actor: Str, action: Str, target: Str, detail: Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true }) },
  { $id: 'AuditEntry' },
);

export const ProblemSchema = Type.Object(
  {
    type: Str,
    title: Str,
    status: Int,
    code: StringEnum(Object.keys(controlCodes())),
    detail: Type.Optional(Str),
    problems: Type.Optional(Type.Array(Type.Object({ field: Str, message: Str }))),
  },
  { $id: 'Problem' },
);

/** Every shared schema, registered once per server. */
export const COMPONENTS: readonly TSchema[] = [
  Health, Provider, SecretEnvironment, Secret, RevealedSecret, Binding, Sandbox, SandboxEnv, SandboxCreated, LogRowSchema, AuditEntrySchema, ProblemSchema,
];

// The SDK's types (wire.ts, written for readers) and these schemas describe the same JSON: a
// field added to one and not the other fails the build here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;
export type SchemasMatchWire = [
  Check<Same<Static<typeof Provider>, Wire.ProviderMeta>>,
  Check<Same<Static<typeof SecretEnvironment>, Wire.SecretEnvironmentMeta>>,
  Check<Same<Static<typeof Secret>, Wire.SecretMeta>>,
  Check<Same<Static<typeof RevealedSecret>, Wire.RevealedSecret>>,
  Check<Same<Static<typeof Binding>, Wire.BindingMeta>>,
  Check<Same<Static<typeof Sandbox>, Wire.SandboxMeta>>,
  Check<Same<Static<typeof SandboxCreated>, Wire.SandboxCreated>>,
  Check<Same<Static<typeof LogRowSchema>, Wire.LogRow>>,
  Check<Same<Static<typeof AuditEntrySchema>, Wire.AuditEntry>>,
  Check<Same<Omit<Static<typeof ProblemSchema>, 'code'>, Omit<Wire.Problem, 'code'>>>,
];
