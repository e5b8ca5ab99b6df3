/**
 * The `standin` package: the TypeScript SDK for the control API of a running gateway.
 * (The gateway itself is the `standin` command; see README.md.)
 */
export {
  createClient,
  resolveControl,
  StandinApiError,
  StandinClient,
  StandinConnectionError,
  type CreateSandboxInput,
  type CreateSecretInput,
  type EnvOptions,
  type LogQuery,
  type RevealInput,
  type StandinClientOptions,
} from './sdk/client.js';
export type {
  AuditEntry,
  BindingMeta,
  Decision,
  LogRow,
  Problem,
  ProviderMeta,
  RevealedSecret,
  Role,
  SandboxCreated,
  SandboxEnv,
  SandboxMeta,
  SecretEnvironmentMeta,
  SecretMeta,
} from './control/wire.js';
