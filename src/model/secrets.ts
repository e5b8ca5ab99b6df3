/**
 * What a secret, a sandbox and a binding are, as every part of standin sees them: the store keeps
 * them, the exchange pipeline reads them, the control API and CLI show them. No I/O here.
 *
 * Names (secrets, sandboxes) are case-insensitive: `OpenAI-Prod` and `openai-prod` are one name.
 */

export const DEFAULT_ENVIRONMENT = 'default';
export const DEFAULT_TENANT = 'default';

/** One place a credential goes in a request. */
export type Placement =
  | { kind: 'bearer' }
  /** Basic credentials. With `user`, upstream always gets `user:value` (the value is the password). */
  | { kind: 'basic'; user?: string }
  /**
   * A named header (lower-cased). With `template` (fixed text around exactly one `{{value}}`),
   * upstream gets the template rendered with the value, whether the sandbox sent the bare token or
   * the rendered template.
   */
  | { kind: 'header'; header: string; template?: string }
  | { kind: 'query'; param: string };

/**
 * How a credential is placed in a request: one placement, or several (`multi`): a token is
 * accepted where any of them accepts it and applied by the first that does. Rows stored before
 * `multi` existed hold a bare placement and stay valid.
 */
export type SchemeSpec = Placement | { kind: 'multi'; placements: Placement[] };

/** The values of a secret in one environment: its own current version and kept versions. */
export interface SecretEnvironment {
  name: string;
  currentVersion: number;
  versions: number[]; // ascending
}

export interface SecretInfo {
  id: string; // opaque stable id (random), also the AES-GCM associated data
  tenant: string;
  name: string;
  scheme: SchemeSpec;
  /** Host patterns as given: `api.openai.com`, `*.example.com`, `host:8443`. */
  hosts: string[];
  provider: string | null;
  /** Current version in the environment `default`; null when the secret has no value there. */
  currentVersion: number | null;
  versions: number[]; // kept versions of every environment, ascending (one sequence per secret)
  /** Environments with a value, `default` first, then by name. */
  environments: SecretEnvironment[];
  /** How many versions rotation keeps (older ones are deleted); always set by the store. */
  keepVersions?: number;
  createdAt: number; // epoch ms
  updatedAt: number;
}

export interface SandboxInfo {
  id: string;
  tenant: string;
  name: string;
  /** The environment whose values of its secrets the sandbox gets. */
  environment: string;
  /** Egress policy: host patterns the sandbox may CONNECT to. Empty means any public host. */
  allowHosts: string[];
  createdAt: number;
}

export interface BindingInfo {
  sandboxId: string;
  env: string; // env var name, e.g. OPENAI_API_KEY
  secretName: string;
  secretId: string;
  token: string; // the stand-in token handed to the sandbox (not a secret: useless without the sandbox's proxy key)
  createdAt: number;
}

/** Everything the proxy needs to decide about one stand-in token found in a request. */
export interface TokenResolution {
  token: string;
  sandboxId: string;
  env: string;
  secret: SecretInfo;
  /** The version to apply: the current one in the sandbox's environment; null if it has none. */
  version: number | null;
}
