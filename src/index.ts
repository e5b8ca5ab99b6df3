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
  type LogFilters,
  type LogQuery,
  type RevealInput,
  type StandinClientOptions,
} from './sdk/client.js';
export type {
  AuditEntry,
  BindingMeta,
  Decision,
  LogExplanation,
  LogRow,
  LogStats,
  Problem,
  ProviderMeta,
  RevealedSecret,
  Role,
  SandboxCheck,
  SandboxCreated,
  SandboxEnv,
  SandboxMeta,
  SecretEnvironmentMeta,
  SecretMeta,
} from './control/wire.js';
/**
 * The Node proxy preload that a sandbox's NODE_OPTIONS names (`--require=<dir of caFile>/NODE_PRELOAD_FILE`):
 * a sidecar that writes the CA bundle somewhere for its sandboxes writes this file beside it.
 */
export { NODE_PRELOAD_FILE } from './sandbox-env/env.js';
export { nodePreloadSource } from './sandbox-env/preload-source.js';
