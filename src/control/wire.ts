/**
 * The JSON shapes of the control API, shared by the server (src/control) and the SDK (src/sdk).
 * Nothing here ever holds a secret value; the only credentials that leave the API are the ones a
 * sidecar must inject into a sandbox: its stand-in tokens and proxy URL (`SandboxEnvResponse`).
 */
import type { BindingCheck } from '../sandbox-env/check.js';
import type { Static } from '@sinclair/typebox';
import type { LogExplanationSchema, LogStatsSchema } from './schemas-log.js';

export type Role = 'admin' | 'operator' | 'auditor';

export type Decision = 'allowed' | 'swapped' | 'denied' | 'token_misuse' | 'error';

/** A secret's metadata; the value is write-only. Times are ISO 8601. */
export interface SecretMeta {
  id: string;
  name: string;
  tenant: string;
  /** `bearer`, `basic`, `header:NAME` or `query:NAME`. */
  scheme: string;
  hosts: string[];
  provider: string | null;
  /** Current version in the environment `default`; null when the secret has no value there. */
  currentVersion: number | null;
  /** Kept versions of every environment (one sequence per secret). */
  versions: number[];
  environments: SecretEnvironmentMeta[];
  createdAt: string;
  updatedAt: string;
}

/** A secret's value in one environment. */
export interface SecretEnvironmentMeta {
  name: string;
  currentVersion: number;
  versions: number[];
}

/** Break glass: what `POST /v1/secrets/{name}/reveal` returns to a key with the reveal permission. */
export interface RevealedSecret {
  name: string;
  environment: string;
  version: number;
  value: string;
}

export interface BindingMeta {
  env: string;
  secret: string;
}

export interface SandboxMeta {
  name: string;
  tenant: string;
  /** The environment whose values of its secrets the sandbox gets. */
  environment: string;
  /** Egress policy; empty means any public host. */
  allowHosts: string[];
  bindings: BindingMeta[];
  createdAt: string;
}

/** What a sandbox is started with: stand-in tokens, proxy variables, CA trust variables. */
export type SandboxEnv = Record<string, string>;

export interface SandboxCreated extends SandboxMeta {
  env: SandboxEnv;
}

export interface ProviderMeta {
  id: string;
  name: string;
  scheme: string;
  hosts: string[];
  env: string;
  tokenPrefix: string;
  docs: string;
}

/** One network-log row. `at` is epoch milliseconds. */
export interface LogRow {
  id: number;
  requestId: string;
  at: number;
  /** null for connections refused before the sandbox was known. */
  tenant?: string | null;
  sandbox: string | null;
  method: string;
  scheme: 'https' | 'http';
  host: string;
  port: number;
  path: string;
  status: number;
  decision: Decision;
  secrets: string[];
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  upstreamIp: string | null;
  errorCode: string | null;
  /** False while the exchange is still going (its row is written when the request is forwarded). */
  complete: boolean;
  /** The gateway that wrote the row (fleet mode: gateways share one log); '' for rows from before gateway ids. */
  gateway: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  tenant: string;
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
}

/** `application/problem+json` (RFC 9457) with a stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  /** Every invalid field of a request body, when the body was refused. */
  problems?: { field: string; message: string }[];
}

/** `POST /v1/sandboxes/NAME/check`: per binding, whether the gateway would apply it and where. */
export interface SandboxCheck {
  sandbox: string;
  ok: boolean;
  bindings: BindingCheck[];
}

/** `GET /v1/log/stats`: counts over the rows the filters select; each list largest first, at most 50. */
export type LogStats = Static<typeof LogStatsSchema>;

/** `GET /v1/log/explain/ID`: one request in plain words, with its full row (chain position included). */
export type LogExplanation = Static<typeof LogExplanationSchema>;
