import { createHash } from 'node:crypto';
import { UsageError } from '../../errors.js';
import { SIGV4_TOKEN_PREFIX } from '../../model/aws-key.js';
import { DEFAULT_ENVIRONMENT, type BindingInfo, type PlacementData, type SandboxInfo, type SchemeSpec } from '../../model/secrets.js';
import { generateToken } from '../../model/token-format.js';
import { decryptValue, encryptValue, sandboxAad } from '../crypto.js';
import { newId, newProxyKey } from '../ids.js';
import { toBinding, toSandbox, type BindingRow, type SandboxRow } from '../rows.js';
import type { CreateSandboxInput } from '../types.js';
import { checkEnv, checkLabel, checkName, normalizeHosts, printable } from '../validate.js';
import { recordAudit, type PgCtx } from './pg-ctx.js';
import type { Queryable } from './pg-db.js';
import { requireSecret } from './pg-secrets.js';
import { PG_BINDING_COLUMNS, PG_SANDBOX_COLUMNS } from './pg-sql.js';

/**
 * Sandboxes, their proxy credentials and bindings on PostgreSQL: the rules of SandboxesRepo and
 * BindingsRepo (SQLite). A binding's token is drawn while the write lock is held, so checking
 * that it is unused before inserting it cannot race with another writer.
 */
interface SandboxRef {
  id: string;
  tenant: string;
  name: string;
  environment: string;
}

const FROM_BINDINGS = 'FROM bindings b JOIN secrets s ON s.id = b.secret_id';
const TOKEN_ATTEMPTS = 3;

export async function getSandbox(q: Queryable, tenant: string, name: string): Promise<SandboxInfo | undefined> {
  const rows = await q.query<SandboxRow>(`SELECT ${PG_SANDBOX_COLUMNS} FROM sandboxes x WHERE x.tenant = $1 AND lower(x.name) = lower($2)`, [tenant, String(name).trim()]);
  return rows[0] === undefined ? undefined : toSandbox(rows[0]);
}

async function requireSandbox(q: Queryable, tenant: string, name: string): Promise<SandboxInfo> {
  const found = await getSandbox(q, tenant, name);
  if (found === undefined) throw new UsageError(`no sandbox named '${printable(String(name))}'`);
  return found;
}

export async function listSandboxes(q: Queryable, tenant: string): Promise<SandboxInfo[]> {
  return (await q.query<SandboxRow>(`SELECT ${PG_SANDBOX_COLUMNS} FROM sandboxes x WHERE x.tenant = $1 ORDER BY lower(x.name), x.name`, [tenant])).map(toSandbox);
}

export async function createSandbox(c: PgCtx, tenant: string, input: CreateSandboxInput): Promise<{ sandbox: SandboxInfo; proxyKey: string; bindings: BindingInfo[] }> {
  const name = checkName('sandbox', input.name);
  const environment = checkLabel('environment', input.environment, DEFAULT_ENVIRONMENT);
  const allowHosts = normalizeHosts(input.allowHosts ?? [], `allowed hosts of sandbox '${name}'`, true);
  const wanted = input.bindings ?? [];
  const seen = new Set<string>();
  for (const b of wanted) {
    if (seen.has(checkEnv(b.env))) throw new UsageError(`${b.env} is bound twice`);
    seen.add(b.env);
  }
  const id = newId('sbx');
  const proxyKey = newProxyKey();
  return c.write(async (q) => {
    if ((await getSandbox(q, tenant, name)) !== undefined) throw new UsageError(`sandbox '${name}' already exists`);
    const hash = createHash('sha256').update(proxyKey, 'utf8').digest();
    const enc = encryptValue(await c.keys.current(q), proxyKey, sandboxAad(id));
    const now = c.clock();
    await q.query(
      `INSERT INTO sandboxes (id, tenant, name, environment, allow_hosts, proxy_key_hash, proxy_key_enc, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [id, tenant, name, environment, JSON.stringify(allowHosts), hash, enc, now],
    );
    const bindings: BindingInfo[] = [];
    for (const b of wanted) bindings.push(await putBinding(c, q, { id, tenant, name, environment }, b.env, b.secretName, b.tokenPrefix));
    await recordAudit(q, now, tenant, input.actor, 'sandbox.create', name, {
      environment,
      allowHosts,
      bindings: bindings.map((b) => ({ env: b.env, secret: b.secretName })),
    });
    return { sandbox: await requireSandbox(q, tenant, name), proxyKey, bindings };
  });
}

export async function deleteSandbox(c: PgCtx, tenant: string, name: string, actor: string): Promise<void> {
  await c.write(async (q) => {
    const sandbox = await requireSandbox(q, tenant, name);
    const envs = (await bindingsOf(q, sandbox.id)).map((b) => b.env);
    await q.query('DELETE FROM sandboxes WHERE id = $1', [sandbox.id]); // bindings go with it (ON DELETE CASCADE)
    await recordAudit(q, c.clock(), tenant, actor, 'sandbox.delete', sandbox.name, { bindingsRemoved: envs });
  });
}

export async function proxyKey(c: PgCtx, tenant: string, name: string): Promise<string> {
  const sandbox = await requireSandbox(c.q, tenant, name);
  const row = (await c.q.query<{ proxy_key_enc: Buffer }>('SELECT proxy_key_enc FROM sandboxes WHERE id = $1', [sandbox.id]))[0];
  if (row === undefined) throw new UsageError(`no sandbox named '${printable(String(name))}'`);
  return decryptValue(await c.keys.current(c.q), row.proxy_key_enc, sandboxAad(sandbox.id));
}

export async function bindingsOf(q: Queryable, sandboxId: string): Promise<BindingInfo[]> {
  return (await q.query<BindingRow>(`SELECT ${PG_BINDING_COLUMNS} ${FROM_BINDINGS} WHERE b.sandbox_id = $1 ORDER BY b.env`, [sandboxId])).map(toBinding);
}

export async function listBindings(q: Queryable, tenant: string, sandboxName: string): Promise<BindingInfo[]> {
  return bindingsOf(q, (await requireSandbox(q, tenant, sandboxName)).id);
}

export async function bind(c: PgCtx, tenant: string, sandboxName: string, env: string, secretName: string, actor: string, tokenPrefix?: string): Promise<BindingInfo> {
  return c.write(async (q) => {
    const sandbox = await requireSandbox(q, tenant, sandboxName);
    const previous = await oneBinding(q, sandbox.id, env);
    const binding = await putBinding(c, q, sandbox, env, secretName, tokenPrefix);
    // A replaced binding's value was the sandbox's until now: still scrubbed for a while.
    if (previous !== undefined) await remember(q, sandbox.id, previous.secret_id, previous.token, c.clock());
    await recordAudit(q, c.clock(), tenant, actor, 'sandbox.bind', sandbox.name, {
      env: binding.env,
      secret: binding.secretName,
      ...(previous !== undefined ? { replaced: previous.secret_name } : {}),
    });
    return binding;
  });
}

export async function unbind(c: PgCtx, tenant: string, sandboxName: string, env: string, actor: string): Promise<void> {
  await c.write(async (q) => {
    const sandbox = await requireSandbox(q, tenant, sandboxName);
    const previous = await oneBinding(q, sandbox.id, env);
    if (previous === undefined) throw new UsageError(`sandbox '${sandbox.name}' has no binding for ${printable(String(env))}`);
    await q.query('DELETE FROM bindings WHERE sandbox_id = $1 AND env = $2', [sandbox.id, env]);
    await remember(q, sandbox.id, previous.secret_id, previous.token, c.clock());
    await recordAudit(q, c.clock(), tenant, actor, 'sandbox.unbind', sandbox.name, { env, secret: previous.secret_name });
  });
}

async function putBinding(c: PgCtx, q: Queryable, sandbox: SandboxRef, env: string, secretName: string, tokenPrefix?: string): Promise<BindingInfo> {
  const name = checkEnv(env);
  const secret = await requireSecret(q, sandbox.tenant, secretName);
  if (!secret.environments.some((e) => e.name === sandbox.environment)) {
    throw new UsageError(
      `secret '${secret.name}' has no value for environment ${sandbox.environment} (of sandbox '${sandbox.name}'): ` +
        `add one with \`standin secret rotate ${secret.name} --environment ${sandbox.environment}\``,
    );
  }
  const prefix = placesWith(secret.scheme, 'sigv4') ? SIGV4_TOKEN_PREFIX : tokenPrefix;
  let token = newToken(prefix);
  for (let attempt = 1; attempt < TOKEN_ATTEMPTS && (await q.query('SELECT 1 FROM bindings WHERE token = $1', [token])).length > 0; attempt++) token = newToken(prefix);
  await q.query(
    `INSERT INTO bindings (sandbox_id, env, secret_id, token, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (sandbox_id, env) DO UPDATE SET secret_id = excluded.secret_id, token = excluded.token, created_at = excluded.created_at`,
    [sandbox.id, name, secret.id, token, c.clock()],
  );
  const row = await oneBinding(q, sandbox.id, name);
  if (row === undefined) throw new Error('binding vanished inside its own transaction');
  return toBinding(row);
}

async function oneBinding(q: Queryable, sandboxId: string, env: string): Promise<BindingRow | undefined> {
  return (await q.query<BindingRow>(`SELECT ${PG_BINDING_COLUMNS} ${FROM_BINDINGS} WHERE b.sandbox_id = $1 AND b.env = $2`, [sandboxId, env]))[0];
}

async function remember(q: Queryable, sandboxId: string, secretId: string, token: string, at: number): Promise<void> {
  await q.query(
    `INSERT INTO recent_unbinds (sandbox_id, secret_id, token, unbound_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (sandbox_id, secret_id) DO UPDATE SET token = excluded.token, unbound_at = excluded.unbound_at`,
    [sandboxId, secretId, token, at],
  );
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
