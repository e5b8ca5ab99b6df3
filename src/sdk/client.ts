import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import got, { RequestError, type Got, type Method } from 'got';
import type { AuditEntry, Decision, LogExplanation, LogRow, LogStats, Problem, ProviderMeta, RevealedSecret, SandboxCheck, SandboxCreated, SandboxEnv, SandboxMeta, SecretMeta } from '../control/wire.js';

/**
 * TypeScript client for the standin control API (what a sandbox runtime's sidecar uses).
 *
 * ```ts
 * import { createClient } from 'standin';
 * const standin = createClient();                       // the local gateway's unix socket
 * await standin.secrets.create({ name: 'anthropic-prod', value, provider: 'anthropic' });
 * const { env } = await standin.sandboxes.create({ name: 'job-42', secrets: { ANTHROPIC_API_KEY: 'anthropic-prod' } });
 * // start the sandbox's process with `env` ...
 * const rows = await standin.log.query({ sandbox: 'job-42' });
 * await standin.sandboxes.delete('job-42');
 * ```
 *
 * Failures are `StandinApiError` (the API refused: status + stable `code`) or
 * `StandinConnectionError` (the gateway could not be reached). Neither carries a request body, so
 * logging one never logs a secret value.
 */
export interface StandinClientOptions {
  /**
   * `unix:/path/control.sock` or `http://host:port`. Default: `$STANDIN_CONTROL`, else the socket
   * `run/control.sock` in the standin home (`$STANDIN_HOME`, else `~/.standin`).
   */
  control?: string;
  /** Needed on TCP (`standin apikey create`). Default: `$STANDIN_API_KEY`. */
  apiKey?: string;
  /**
   * The tenant to act in, on the unix socket (default: `default`). An API key belongs to one
   * tenant; naming another with a key is refused.
   */
  tenant?: string;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /**
   * How sandboxes reach the gateway, when it differs from where the proxy listens (another
   * container, a network namespace): applied to `sandboxes.create` and `sandboxes.env`.
   */
  sandboxDefaults?: EnvOptions;
  /** Environment to read the defaults from (tests). */
  env?: NodeJS.ProcessEnv;
}

export interface EnvOptions {
  /** `HOST:PORT` the sandbox connects to for the proxy. */
  proxy?: string;
  /**
   * Absolute path of the CA bundle as the sandbox sees it. The env's NODE_OPTIONS names the Node
   * proxy preload in the same directory (`nodePreloadSource()`, `NODE_PRELOAD_FILE`): put it there.
   */
  caFile?: string;
}

export interface CreateSecretInput {
  name: string;
  /** The real credential. Sent once, never returned by any call. */
  value: string;
  /** A provider preset (`providers.list()`): sets scheme and hosts unless given. */
  provider?: string;
  /** Host patterns the value may be sent to (`api.example.com`, `*.example.com`, `host:8443`). */
  hosts?: string[];
  /** `bearer` (default), `basic[:USER]`, `header:NAME[=TEMPLATE]`, `query:NAME`, or a comma list. */
  scheme?: string;
  /** The environment this first value is for (default `default`); add others with `rotate`. */
  environment?: string;
}

export interface RevealInput {
  /** Why the value is needed (8-500 characters); kept in the audit trail. */
  reason: string;
  environment?: string;
}

export interface CreateSandboxInput extends EnvOptions {
  name: string;
  /** Bindings: env var name -> secret name. */
  secrets?: Record<string, string>;
  /** Egress policy: host patterns the sandbox may reach; empty or absent means any public host. */
  allowHosts?: string[];
  /** The environment whose values of its secrets the sandbox gets (default `default`). */
  environment?: string;
}

/** The filters of every log read; each narrows the rows. */
export interface LogFilters {
  sandbox?: string;
  /** A host, or a glob (`*.example.com`). */
  host?: string;
  decision?: Decision;
  /** The HTTP status sent to the sandbox (0: none was sent). */
  status?: number;
  /** Requests that carried this secret: `NAME` (any version) or `NAME@VERSION`. */
  secret?: string;
  method?: string;
  /** A Date, epoch ms, an ISO 8601 string or an age like `15m`. */
  since?: Date | number | string;
  /** Rows before this: the same forms as `since`. */
  until?: Date | number | string;
}

export interface LogQuery extends LogFilters {
  /** The newest N rows (default 100, at most 10 000), returned oldest first. */
  limit?: number;
  /** Only rows with a larger id: pass the last id seen to poll for new rows. */
  afterId?: number;
}

/** The API refused the call. `code` is stable (CTL_NOT_FOUND, CTL_INVALID, CTL_FORBIDDEN, ...). */
export class StandinApiError extends Error {
  override readonly name = 'StandinApiError';
  readonly status: number;
  readonly code: string;
  readonly detail: string | undefined;
  readonly problems: { field: string; message: string }[];

  constructor(status: number, problem: Partial<Problem>) {
    super(`${problem.code ?? `HTTP ${status}`}: ${problem.detail ?? problem.title ?? 'request failed'}`);
    this.status = status;
    this.code = problem.code ?? `HTTP_${status}`;
    this.detail = problem.detail;
    this.problems = problem.problems ?? [];
  }
}

/** The gateway could not be reached (socket missing, refused, timed out). */
export class StandinConnectionError extends Error {
  override readonly name = 'StandinConnectionError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** Where the control API is, from options, then the environment, then the home's socket. */
export function resolveControl(options: Pick<StandinClientOptions, 'control' | 'env'> = {}): string {
  const env = options.env ?? process.env;
  const chosen = options.control ?? (env['STANDIN_CONTROL']?.trim() || undefined);
  if (chosen !== undefined) return chosen;
  const home = env['STANDIN_HOME']?.trim() || join(homedir(), '.standin');
  return `unix:${join(resolve(home), 'run', 'control.sock')}`;
}

type Query = Record<string, string | number | undefined>;

interface Call {
  method: Method;
  path: string;
  json?: unknown;
  query?: Query;
  text?: boolean;
}

export class StandinClient {
  readonly #got: Got;
  readonly #base: string;
  readonly #defaults: EnvOptions;

  /** Secrets: write-only values, readable metadata. */
  readonly secrets = {
    create: (input: CreateSecretInput): Promise<SecretMeta> => this.#call({ method: 'POST', path: '/v1/secrets', json: input }),
    list: (): Promise<SecretMeta[]> => this.#call({ method: 'GET', path: '/v1/secrets' }),
    get: (name: string): Promise<SecretMeta> => this.#call({ method: 'GET', path: `/v1/secrets/${enc(name)}` }),
    /**
     * Adds a version with the new value and makes it current (tokens keep working); with
     * `environment`, for that environment (its first value there, or the next).
     */
    rotate: (name: string, value: string, options: { environment?: string } = {}): Promise<SecretMeta> =>
      this.#call({ method: 'POST', path: `/v1/secrets/${enc(name)}/rotate`, json: { value, ...options } }),
    rollback: (name: string, options: { environment?: string } = {}): Promise<SecretMeta> =>
      this.#call({ method: 'POST', path: `/v1/secrets/${enc(name)}/rollback`, json: options }),
    /**
     * Break glass: the current value, only for an API key created with `--allow-reveal`; every
     * call, allowed or not, is written to the audit trail with its reason.
     */
    reveal: (name: string, input: RevealInput): Promise<RevealedSecret> =>
      this.#call({ method: 'POST', path: `/v1/secrets/${enc(name)}/reveal`, json: input }),
    /** Deletes the secret and every binding that uses it. */
    delete: (name: string): Promise<void> => this.#call({ method: 'DELETE', path: `/v1/secrets/${enc(name)}` }),
  };

  /** Sandboxes: identities that connect through the gateway, with their bindings. */
  readonly sandboxes = {
    /** Creates the sandbox and returns, in `env`, the variables to start its processes with. */
    create: (input: CreateSandboxInput): Promise<SandboxCreated> =>
      this.#call({ method: 'POST', path: '/v1/sandboxes', json: { ...this.#defaults, ...input } }),
    list: (): Promise<SandboxMeta[]> => this.#call({ method: 'GET', path: '/v1/sandboxes' }),
    get: (name: string): Promise<SandboxMeta> => this.#call({ method: 'GET', path: `/v1/sandboxes/${enc(name)}` }),
    /** The sandbox's environment (stand-in tokens, proxy URL with its credential, CA trust). */
    env: (name: string, options: EnvOptions = {}): Promise<SandboxEnv> =>
      this.#call({ method: 'GET', path: `/v1/sandboxes/${enc(name)}/env`, query: { ...this.#defaults, ...options } }),
    /** Binds a secret to an env var; a new token replaces the old one (read it with `env`). */
    bind: (name: string, envVar: string, secret: string): Promise<SandboxMeta> =>
      this.#call({ method: 'PUT', path: `/v1/sandboxes/${enc(name)}/bindings/${enc(envVar)}`, json: { secret } }),
    unbind: (name: string, envVar: string): Promise<SandboxMeta> => this.#call({ method: 'DELETE', path: `/v1/sandboxes/${enc(name)}/bindings/${enc(envVar)}` }),
    /** Self-tests each binding through the gateway as the sandbox (nothing is forwarded). */
    check: (name: string, options: { proxy?: string; caFile?: string } = {}): Promise<SandboxCheck> =>
      this.#call({ method: 'POST', path: `/v1/sandboxes/${enc(name)}/check`, json: options }),
    /** Deletes the sandbox: its proxy credential and tokens stop working at once. */
    delete: (name: string): Promise<void> => this.#call({ method: 'DELETE', path: `/v1/sandboxes/${enc(name)}` }),
  };

  readonly providers = {
    list: (): Promise<ProviderMeta[]> => this.#call({ method: 'GET', path: '/v1/providers' }),
  };

  /** The network log: one row per request, tunnel or refusal. */
  readonly log = {
    query: (q: LogQuery = {}): Promise<LogRow[]> =>
      this.#call({ method: 'GET', path: '/v1/log', query: { ...filterQuery(q), limit: q.limit, afterId: q.afterId } }),
    /** Counts over the selected rows: per sandbox and host, refusals by code, bytes, swaps per secret@version. */
    stats: (q: LogFilters = {}): Promise<LogStats> => this.#call({ method: 'GET', path: '/v1/log/stats', query: filterQuery(q) }),
    /**
     * One request in plain words (what happened, why, what to change) with its full row. The id is
     * a row's `requestId`, or the `X-Standin-Request-Id` of a response the sandbox got.
     */
    explain: (requestId: string): Promise<LogExplanation> => this.#call({ method: 'GET', path: `/v1/log/explain/${enc(requestId)}` }),
    /**
     * Polls until `predicate` holds for the rows matching `q` of exchanges that have ended
     * (complete rows; rows are written in batches, a few tens of ms after the request ends);
     * returns them, or throws after `timeoutMs`.
     */
    waitFor: async (q: LogQuery, predicate: (rows: LogRow[]) => boolean, timeoutMs = 5_000): Promise<LogRow[]> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = (await this.log.query(q)).filter((r) => r.complete !== false);
        if (predicate(rows)) return rows;
        if (Date.now() > deadline) throw new StandinConnectionError('log.waitFor: timed out', 'ETIMEDOUT');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };

  readonly audit = {
    query: (q: { since?: Date | number | string; limit?: number } = {}): Promise<AuditEntry[]> =>
      this.#call({ method: 'GET', path: '/v1/audit', query: { since: q.since instanceof Date ? q.since.getTime() : q.since, limit: q.limit } }),
  };

  readonly ca = {
    /** The standin CA certificate (PEM); `bundle: true` gives system roots plus the CA. */
    get: (options: { bundle?: boolean } = {}): Promise<string> =>
      this.#call({ method: 'GET', path: '/v1/ca', query: { bundle: options.bundle === true ? 'true' : undefined }, text: true }),
  };

  constructor(options: StandinClientOptions = {}) {
    const env = options.env ?? process.env;
    const control = resolveControl(options);
    const apiKey = options.apiKey ?? (env['STANDIN_API_KEY']?.trim() || undefined);
    this.#defaults = { ...options.sandboxDefaults };
    if (control.startsWith('unix:')) {
      // got's unix socket form: http://unix:SOCKET_PATH:/request/path
      this.#base = `http://unix:${control.slice(5)}:`;
    } else if (/^https?:\/\//.test(control)) {
      this.#base = control.replace(/\/+$/, '');
    } else {
      throw new TypeError(`control must be unix:/path or http(s)://host:port`);
    }
    this.#got = got.extend({
      enableUnixSockets: control.startsWith('unix:'),
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: options.timeoutMs ?? 10_000 },
      headers: {
        ...(apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }),
        ...(options.tenant === undefined ? {} : { 'standin-tenant': options.tenant }),
      },
    });
  }

  /** Liveness: resolves when the gateway process answers. */
  health(): Promise<{ status: string }> {
    return this.#call({ method: 'GET', path: '/healthz' });
  }

  /** Readiness: true when the proxy listens and the database answers. */
  async ready(): Promise<boolean> {
    try {
      await this.#call({ method: 'GET', path: '/readyz' });
      return true;
    } catch (e) {
      if (e instanceof StandinApiError && e.status === 503) return false;
      throw e;
    }
  }

  /** Prometheus text. */
  metrics(): Promise<string> {
    return this.#call({ method: 'GET', path: '/metrics', text: true });
  }

  openapi(): Promise<Record<string, unknown>> {
    return this.#call({ method: 'GET', path: '/openapi.json' });
  }

  async #call<T>(c: Call): Promise<T> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) search.set(k, String(v));
    const qs = search.size > 0 ? `?${search.toString()}` : '';
    let res;
    try {
      res = await this.#got(`${this.#base}${c.path}${qs}`, { method: c.method, ...(c.json === undefined ? {} : { json: c.json }) });
    } catch (e) {
      // got's errors hold the request options (the JSON body, a value); keep only what is safe.
      if (e instanceof RequestError) throw new StandinConnectionError(`standin control API unreachable (${e.code})`, e.code);
      throw new StandinConnectionError('standin control API request failed', undefined);
    }
    const body = res.body;
    if (res.statusCode >= 400) throw new StandinApiError(res.statusCode, parseProblem(body));
    if (res.statusCode === 204) return undefined as T;
    if (c.text === true) return body as T;
    try {
      return JSON.parse(body) as T;
    } catch {
      throw new StandinApiError(res.statusCode, { code: 'SDK_BAD_RESPONSE', detail: 'response is not JSON' });
    }
  }
}

export function createClient(options: StandinClientOptions = {}): StandinClient {
  return new StandinClient(options);
}

/** The query string of the log filters; Dates as epoch ms, absent filters left out. */
function filterQuery(q: LogFilters): Record<string, string | number | undefined> {
  const time = (t: Date | number | string | undefined): string | number | undefined => (t instanceof Date ? t.getTime() : t);
  return { sandbox: q.sandbox, host: q.host, decision: q.decision, status: q.status, secret: q.secret, method: q.method, since: time(q.since), until: time(q.until) };
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function parseProblem(body: string): Partial<Problem> {
  try {
    const p: unknown = JSON.parse(body);
    if (typeof p === 'object' && p !== null) return p as Partial<Problem>;
  } catch {
    // not a problem document
  }
  return {};
}
