import { GatewayError, RuntimeError, UsageError } from '../../errors.js';
import { DEFAULT_ENVIRONMENT, type SecretInfo } from '../../model/secrets.js';
import { SecretValue } from '../../secret-value.js';
import { decryptValue, encryptValue, secretAad } from '../crypto.js';
import { newId } from '../ids.js';
import { toSecret, type SecretRow } from '../rows.js';
import { DEFAULT_KEEP_VERSIONS, type CreateSecretInput, type RotateOptions } from '../types.js';
import { checkKeepVersions, checkLabel, checkName, checkProvider, checkScheme, checkValue, normalizeHosts, printable } from '../validate.js';
import { recordAudit, type PgCtx } from './pg-ctx.js';
import type { Queryable } from './pg-db.js';
import { PG_SECRET_COLUMNS } from './pg-sql.js';

/**
 * Secrets on PostgreSQL: the same rules as SecretsRepo (SQLite) — one version sequence per
 * secret, a current version per environment, retention on rotation, compare-and-set for the
 * gateway's own rotations — each change in one write transaction with its audit row.
 */
export async function getSecret(q: Queryable, tenant: string, name: string): Promise<SecretInfo | undefined> {
  const rows = await q.query<SecretRow>(`SELECT ${PG_SECRET_COLUMNS} FROM secrets s WHERE s.tenant = $1 AND lower(s.name) = lower($2)`, [tenant, String(name).trim()]);
  return rows[0] === undefined ? undefined : toSecret(rows[0]);
}

export async function requireSecret(q: Queryable, tenant: string, name: string): Promise<SecretInfo> {
  const found = await getSecret(q, tenant, name);
  if (found === undefined) throw new UsageError(`no secret named '${printable(String(name))}'`);
  return found;
}

export async function listSecrets(q: Queryable, tenant: string): Promise<SecretInfo[]> {
  const rows = await q.query<SecretRow>(`SELECT ${PG_SECRET_COLUMNS} FROM secrets s WHERE s.tenant = $1 ORDER BY lower(s.name), s.name`, [tenant]);
  return rows.map(toSecret);
}

export async function createSecret(c: PgCtx, tenant: string, input: CreateSecretInput): Promise<SecretInfo> {
  const name = checkName('secret', input.name);
  const scheme = checkScheme(input.scheme);
  const hosts = normalizeHosts(input.hosts, `secret '${name}'`, false);
  const provider = checkProvider(input.provider);
  const plaintext = checkValue(input.value);
  const keep = checkKeepVersions(input.keepVersions) ?? null;
  const environment = checkLabel('environment', input.environment, DEFAULT_ENVIRONMENT);
  const id = newId('sec');
  return c.write(async (q) => {
    if ((await getSecret(q, tenant, name)) !== undefined) throw new UsageError(`secret '${name}' already exists`);
    const now = c.clock();
    await q.query(
      `INSERT INTO secrets (id, tenant, name, scheme, hosts, provider, created_at, updated_at, keep_versions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [id, tenant, name, JSON.stringify(scheme), JSON.stringify(hosts), provider, now, now, keep],
    );
    const key = await c.keys.current(q);
    await insertVersion(q, id, 1, environment, encryptValue(key, plaintext, secretAad(id, 1)), now);
    await setCurrent(q, id, environment, 1);
    await recordAudit(q, now, tenant, input.actor, 'secret.create', name, { scheme: scheme.kind, hosts, provider, environment, version: 1 });
    return requireSecret(q, tenant, name);
  });
}

export async function rotateSecret(c: PgCtx, tenant: string, name: string, value: SecretValue, actor: string, options: RotateOptions = {}): Promise<number> {
  const plaintext = checkValue(value);
  const keepChange = checkKeepVersions(options.keepVersions);
  const environment = checkLabel('environment', options.environment, DEFAULT_ENVIRONMENT);
  return c.write(async (q) => {
    const secret = await requireSecret(q, tenant, name);
    const from = secret.environments.find((e) => e.name === environment)?.currentVersion ?? null;
    return addVersion(c, q, secret, environment, plaintext, keepChange, actor, { from });
  });
}

export async function rotateSecretIfCurrent(c: PgCtx, secretId: string, environment: string, fromVersion: number, value: SecretValue, actor: string, reason: string): Promise<number | undefined> {
  const plaintext = checkValue(value);
  return c.write(async (q) => {
    const rows = await q.query<SecretRow>(`SELECT ${PG_SECRET_COLUMNS} FROM secrets s WHERE s.id = $1`, [secretId]);
    const secret = rows[0] === undefined ? undefined : toSecret(rows[0]);
    const from = secret?.environments.find((e) => e.name === environment)?.currentVersion;
    if (secret === undefined || from !== fromVersion) return undefined;
    return addVersion(c, q, secret, environment, plaintext, undefined, actor, { from, reason });
  });
}

// Inside the caller's transaction: the next version made current, retention applied, audited.
async function addVersion(c: PgCtx, q: Queryable, secret: SecretInfo, environment: string, plaintext: string, keepChange: number | undefined, actor: string, detail: { from: number | null; reason?: string }): Promise<number> {
  const max = (await q.query<{ v: number | null }>('SELECT max(version) AS v FROM secret_versions WHERE secret_id = $1', [secret.id]))[0]?.v ?? 0;
  const next = max + 1;
  const now = c.clock();
  const key = await c.keys.current(q);
  await insertVersion(q, secret.id, next, environment, encryptValue(key, plaintext, secretAad(secret.id, next)), now);
  await setCurrent(q, secret.id, environment, next);
  await q.query('UPDATE secrets SET updated_at = $1 WHERE id = $2', [now, secret.id]);
  if (keepChange !== undefined) await q.query('UPDATE secrets SET keep_versions = $1 WHERE id = $2', [keepChange, secret.id]);
  const keep = keepChange ?? secret.keepVersions ?? DEFAULT_KEEP_VERSIONS;
  // The environment's versions older than its newest `keep`, never its current one.
  const pruned = (
    await q.query<{ version: number }>(
      `DELETE FROM secret_versions WHERE secret_id = $1 AND environment = $2 AND version NOT IN
         (SELECT version FROM secret_versions WHERE secret_id = $1 AND environment = $2 ORDER BY version DESC LIMIT $3)
       AND version <> (SELECT version FROM secret_current WHERE secret_id = $1 AND environment = $2)
       RETURNING version`,
      [secret.id, environment, keep],
    )
  )
    .map((r) => r.version)
    .sort((a, b) => a - b);
  await recordAudit(q, now, secret.tenant, actor, 'secret.rotate', secret.name, {
    environment,
    from: detail.from,
    to: next,
    keep,
    ...(pruned.length > 0 ? { pruned } : {}),
    ...(detail.reason !== undefined ? { reason: detail.reason } : {}),
  });
  return next;
}

export async function rollbackSecret(c: PgCtx, tenant: string, name: string, actor: string, environment?: string): Promise<number> {
  const env = checkLabel('environment', environment, DEFAULT_ENVIRONMENT);
  return c.write(async (q) => {
    const secret = await requireSecret(q, tenant, name);
    const current = secret.environments.find((e) => e.name === env)?.currentVersion;
    if (current === undefined) throw new UsageError(`secret '${secret.name}' has no value for environment ${env}`);
    const prev =
      (await q.query<{ v: number | null }>('SELECT max(version) AS v FROM secret_versions WHERE secret_id = $1 AND environment = $2 AND version < $3', [secret.id, env, current]))[0]
        ?.v ?? null;
    if (prev === null) throw new UsageError(`secret '${secret.name}' has no version before v${current} in environment ${env} to roll back to`);
    await setCurrent(q, secret.id, env, prev);
    const now = c.clock();
    await q.query('UPDATE secrets SET updated_at = $1 WHERE id = $2', [now, secret.id]);
    await recordAudit(q, now, tenant, actor, 'secret.rollback', secret.name, { environment: env, from: current, to: prev });
    return prev;
  });
}

export async function deleteSecret(c: PgCtx, tenant: string, name: string, actor: string): Promise<void> {
  await c.write(async (q) => {
    const secret = await requireSecret(q, tenant, name);
    const usedBy = (
      await q.query<{ sandbox: string; env: string }>(
        `SELECT x.name AS sandbox, b.env FROM bindings b JOIN sandboxes x ON x.id = b.sandbox_id WHERE b.secret_id = $1 ORDER BY lower(x.name), b.env`,
        [secret.id],
      )
    ).map((u) => `${u.sandbox}:${u.env}`);
    // Versions and bindings (the stand-in tokens) go with it through ON DELETE CASCADE.
    await q.query('DELETE FROM secrets WHERE id = $1', [secret.id]);
    await recordAudit(q, c.clock(), tenant, actor, 'secret.delete', secret.name, { versions: secret.versions, bindingsRemoved: usedBy });
  });
}

/** Plaintext of one version (the break-glass reveal); GatewayError like SecretsRepo.value. */
export async function secretValue(c: PgCtx, secretId: string, version: number): Promise<SecretValue> {
  const key = await c.keys.current(c.q);
  const row = (await c.q.query<{ ciphertext: Buffer }>('SELECT ciphertext FROM secret_versions WHERE secret_id = $1 AND version = $2', [secretId, version]))[0];
  if (row === undefined) throw new GatewayError('GW_SECRET_UNAVAILABLE', `secret ${secretId} has no version ${version}`);
  try {
    return new SecretValue(decryptValue(key, row.ciphertext, secretAad(secretId, version)));
  } catch (e) {
    if (e instanceof RuntimeError) throw new GatewayError('GW_SECRET_UNAVAILABLE', `secret ${secretId}: ${e.message}`);
    throw e;
  }
}

async function insertVersion(q: Queryable, id: string, version: number, environment: string, blob: Buffer, now: number): Promise<void> {
  await q.query('INSERT INTO secret_versions (secret_id, version, environment, ciphertext, created_at) VALUES ($1, $2, $3, $4, $5)', [id, version, environment, blob, now]);
}

async function setCurrent(q: Queryable, id: string, environment: string, version: number): Promise<void> {
  await q.query(
    `INSERT INTO secret_current (secret_id, environment, version) VALUES ($1, $2, $3)
     ON CONFLICT (secret_id, environment) DO UPDATE SET version = excluded.version`,
    [id, environment, version],
  );
}
