import type { Statement } from 'better-sqlite3';
import { UsageError } from '../errors.js';
import { generateToken } from '../model/token-format.js';
import type { AuditRepo } from './audit-repo.js';
import type { Db } from './database.js';
import { BINDING_COLUMNS, SECRET_COLUMNS, toBinding, toSecret, type BindingRow, type SecretRow } from './rows.js';
import type { SecretsRepo } from './secrets-repo.js';
import type { BindingInfo, PlacementData, SchemeSpec, TokenResolution, UnboundSecret } from '../model/secrets.js';
import { SIGV4_TOKEN_PREFIX } from '../model/aws-key.js';
import { checkEnv, printable } from './validate.js';

interface SandboxRef {
  id: string;
  tenant: string;
  name: string;
  environment: string;
}

type ResolutionRow = SecretRow & { b_token: string; b_sandbox_id: string; b_env: string; b_version: number | null };

// A token collision needs ~2^95 tokens; retrying covers it without making it an error path.
const TOKEN_ATTEMPTS = 3;

/**
 * Bindings `ENV -> secret` of a sandbox, each with its own stand-in token. `resolve` is one
 * indexed lookup; the store memoises it per database change (lookup-cache.ts), so a CLI change
 * made while the gateway runs still counts on the very next request.
 */
export class BindingsRepo {
  readonly #db: Db;
  readonly #clock: () => number;
  readonly #audit: AuditRepo;
  readonly #secrets: SecretsRepo;
  readonly #sandbox: Statement<[string, string], SandboxRef>;
  readonly #upsert: Statement<[string, string, string, string, number]>;
  readonly #one: Statement<[string, string], BindingRow>;
  readonly #ofSandbox: Statement<[string], BindingRow>;
  readonly #delete: Statement<[string, string]>;
  readonly #resolve: Statement<[string], ResolutionRow>;
  readonly #remember: Statement<[string, string, string, number]>;
  readonly #unbound: Statement<[string], SecretRow & { u_token: string; u_at: number }>;

  constructor(db: Db, clock: () => number, audit: AuditRepo, secrets: SecretsRepo) {
    this.#db = db;
    this.#clock = clock;
    this.#audit = audit;
    this.#secrets = secrets;
    this.#sandbox = db.prepare('SELECT id, tenant, name, environment FROM sandboxes WHERE tenant = ? AND name = ?');
    // Binding an env name again replaces the binding and issues a new token: the old one stops working.
    this.#upsert = db.prepare(
      `INSERT INTO bindings (sandbox_id, env, secret_id, token, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (sandbox_id, env) DO UPDATE SET
         secret_id = excluded.secret_id, token = excluded.token, created_at = excluded.created_at`,
    );
    const from = 'FROM bindings b JOIN secrets s ON s.id = b.secret_id';
    this.#one = db.prepare(`SELECT ${BINDING_COLUMNS} ${from} WHERE b.sandbox_id = ? AND b.env = ?`);
    this.#ofSandbox = db.prepare(`SELECT ${BINDING_COLUMNS} ${from} WHERE b.sandbox_id = ? ORDER BY b.env`);
    this.#delete = db.prepare('DELETE FROM bindings WHERE sandbox_id = ? AND env = ?');
    this.#remember = db.prepare(
      `INSERT INTO recent_unbinds (sandbox_id, secret_id, token, unbound_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (sandbox_id, secret_id) DO UPDATE SET token = excluded.token, unbound_at = excluded.unbound_at`,
    );
    this.#unbound = db.prepare(
      `SELECT u.token AS u_token, u.unbound_at AS u_at, ${SECRET_COLUMNS}
       FROM recent_unbinds u JOIN secrets s ON s.id = u.secret_id WHERE u.sandbox_id = ? ORDER BY u.unbound_at`,
    );
    // The version is the current one in the environment of the token's sandbox.
    this.#resolve = db.prepare(
      `SELECT b.token AS b_token, b.sandbox_id AS b_sandbox_id, b.env AS b_env,
         (SELECT c.version FROM secret_current c JOIN sandboxes x ON x.id = b.sandbox_id
          WHERE c.secret_id = b.secret_id AND c.environment = x.environment) AS b_version,
         ${SECRET_COLUMNS}
       ${from} WHERE b.token = ?`,
    );
  }

  /**
   * Writes one binding for a sandbox to a secret of its tenant that has a value in its
   * environment; the caller holds the transaction and writes the audit row.
   */
  put(sandbox: SandboxRef, env: string, secretName: string, tokenPrefix?: string): BindingInfo {
    const name = checkEnv(env);
    const secret = this.#secrets.require(sandbox.tenant, secretName);
    if (!secret.environments.some((e) => e.name === sandbox.environment)) {
      throw new UsageError(
        `secret '${secret.name}' has no value for environment ${sandbox.environment} (of sandbox '${sandbox.name}'): ` +
          `add one with \`standin secret rotate ${secret.name} --environment ${sandbox.environment}\``,
      );
    }
    // A SigV4 secret's token is marked so that `sandbox env` exports its stand-in pair (model/aws-key.ts).
    const prefix = placesWith(secret.scheme, 'sigv4') ? SIGV4_TOKEN_PREFIX : tokenPrefix;
    for (let attempt = 1; ; attempt++) {
      try {
        this.#upsert.run(sandbox.id, name, secret.id, newToken(prefix), this.#clock());
        break;
      } catch (e) {
        if (attempt >= TOKEN_ATTEMPTS || !isTokenCollision(e)) throw e;
      }
    }
    const row = this.#one.get(sandbox.id, name);
    if (row === undefined) throw new Error('binding vanished inside its own transaction');
    return toBinding(row);
  }

  bind(tenant: string, sandboxName: string, env: string, secretName: string, actor: string, tokenPrefix?: string): BindingInfo {
    return this.#db.transaction(() => {
      const sandbox = this.#requireSandbox(tenant, sandboxName);
      const previous = this.#one.get(sandbox.id, env);
      const binding = this.put(sandbox, env, secretName, tokenPrefix);
      // A replaced binding's value was the sandbox's until now: still scrubbed for a while.
      if (previous !== undefined) this.#remember.run(sandbox.id, previous.secret_id, previous.token, this.#clock());
      this.#audit.record(tenant, actor, 'sandbox.bind', sandbox.name, {
        env: binding.env,
        secret: binding.secretName,
        ...(previous !== undefined ? { replaced: previous.secret_name } : {}),
      });
      return binding;
    }).immediate();
  }

  unbind(tenant: string, sandboxName: string, env: string, actor: string): void {
    this.#db.transaction(() => {
      const sandbox = this.#requireSandbox(tenant, sandboxName);
      const previous = this.#one.get(sandbox.id, env);
      if (previous === undefined) {
        throw new UsageError(`sandbox '${sandbox.name}' has no binding for ${printable(String(env))}`);
      }
      this.#delete.run(sandbox.id, env);
      this.#remember.run(sandbox.id, previous.secret_id, previous.token, this.#clock());
      this.#audit.record(tenant, actor, 'sandbox.unbind', sandbox.name, { env, secret: previous.secret_name });
    }).immediate();
  }

  list(tenant: string, sandboxName: string): BindingInfo[] {
    return this.listById(this.#requireSandbox(tenant, sandboxName).id);
  }

  listById(sandboxId: string): BindingInfo[] {
    return this.#ofSandbox.all(sandboxId).map(toBinding);
  }

  /** Secrets the sandbox was bound to before (unbound or replaced), with when; oldest first. */
  unbound(sandboxId: string): UnboundSecret[] {
    return this.#unbound.all(sandboxId).map((row) => ({ secret: toSecret(row), token: row.u_token, unboundAt: row.u_at }));
  }

  resolve(token: string): TokenResolution | undefined {
    if (typeof token !== 'string' || token === '') return undefined;
    const row = this.#resolve.get(token);
    if (row === undefined) return undefined;
    return { token: row.b_token, sandboxId: row.b_sandbox_id, env: row.b_env, secret: toSecret(row), version: row.b_version };
  }

  #requireSandbox(tenant: string, name: string): SandboxRef {
    const row = this.#sandbox.get(tenant, String(name).trim());
    if (row === undefined) throw new UsageError(`no sandbox named '${printable(String(name))}'`);
    return row;
  }
}

function placesWith(scheme: SchemeSpec, kind: string): boolean {
  const list = scheme.kind === 'multi' && Array.isArray(scheme['placements']) ? (scheme['placements'] as PlacementData[]) : [scheme];
  return list.some((p) => p.kind === kind);
}

function newToken(prefix: string | undefined): string {
  try {
    return generateToken(prefix ?? '');
  } catch {
    throw new UsageError('token prefix must be 1-24 characters of letters, digits, _ or -');
  }
}

function isTokenCollision(e: unknown): boolean {
  return e instanceof Error && 'code' in e && e.code === 'SQLITE_CONSTRAINT_UNIQUE' && e.message.includes('token');
}
