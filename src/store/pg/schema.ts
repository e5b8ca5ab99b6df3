import { RuntimeError } from '../../errors.js';
import { clientQueryable, type PgDb } from './pg-db.js';

/**
 * PostgreSQL migrations: the same store as SQLite's schema (src/store/schema.ts, up to v8), in
 * PostgreSQL's terms. Names are unique per tenant case-insensitively (unique indexes on
 * lower(name); names are ASCII), blobs are bytea, times are epoch-ms bigints. A released
 * migration never changes; a new need is a new entry at the end. The network log's tables are
 * added by the network-log side as further entries.
 */
export interface PgMigration {
  version: number;
  sql: string;
}

const V1_STORE = `
CREATE TABLE tenants (
  name text PRIMARY KEY,
  created_at bigint NOT NULL
);
INSERT INTO tenants (name, created_at) VALUES ('default', (extract(epoch FROM clock_timestamp()) * 1000)::bigint);

CREATE TABLE secrets (
  id text PRIMARY KEY,
  tenant text NOT NULL REFERENCES tenants(name),
  name text NOT NULL,
  scheme text NOT NULL,
  hosts text NOT NULL,
  provider text,
  keep_versions integer,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE UNIQUE INDEX secrets_tenant_name ON secrets (tenant, lower(name));

CREATE TABLE secret_versions (
  secret_id text NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  version integer NOT NULL,
  environment text NOT NULL,
  ciphertext bytea NOT NULL,          -- AES-256-GCM, aad "<secret_id>:<version>"
  created_at bigint NOT NULL,
  PRIMARY KEY (secret_id, version)
);

CREATE TABLE secret_current (
  secret_id text NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  environment text NOT NULL,
  version integer NOT NULL,
  PRIMARY KEY (secret_id, environment)
);

CREATE TABLE sandboxes (
  id text PRIMARY KEY,
  tenant text NOT NULL REFERENCES tenants(name),
  name text NOT NULL,
  environment text NOT NULL,
  allow_hosts text NOT NULL,
  proxy_key_hash bytea NOT NULL,
  proxy_key_enc bytea NOT NULL,       -- AES-256-GCM, aad "sandbox:<id>"
  created_at bigint NOT NULL
);
CREATE UNIQUE INDEX sandboxes_tenant_name ON sandboxes (tenant, lower(name));
CREATE UNIQUE INDEX sandboxes_proxy_key ON sandboxes (proxy_key_hash);

CREATE TABLE bindings (
  sandbox_id text NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  env text NOT NULL,
  secret_id text NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  token text NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (sandbox_id, env)
);
CREATE UNIQUE INDEX bindings_token ON bindings (token);
CREATE INDEX bindings_secret ON bindings (secret_id);

-- A binding joins a sandbox and a secret of one tenant, whatever code writes it.
CREATE FUNCTION standin_bindings_same_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT tenant FROM secrets WHERE id = NEW.secret_id) IS DISTINCT FROM (SELECT tenant FROM sandboxes WHERE id = NEW.sandbox_id) THEN
    RAISE EXCEPTION 'a binding cannot cross tenants';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER bindings_same_tenant BEFORE INSERT OR UPDATE OF secret_id, sandbox_id ON bindings
  FOR EACH ROW EXECUTE FUNCTION standin_bindings_same_tenant();

CREATE TABLE recent_unbinds (
  sandbox_id text NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  secret_id text NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  token text NOT NULL,
  unbound_at bigint NOT NULL,
  PRIMARY KEY (sandbox_id, secret_id)
);

CREATE TABLE audit (
  id bigserial PRIMARY KEY,
  at bigint NOT NULL,
  tenant text NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  detail text NOT NULL DEFAULT '{}'   -- JSON object; never a value, proxy key or token
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_tenant_at ON audit (tenant, at);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
  tenant text NOT NULL,
  can_reveal boolean NOT NULL DEFAULT false,
  key_hash bytea NOT NULL,
  created_at bigint NOT NULL,
  last_used_at bigint,
  revoked_at bigint
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (lower(name)) WHERE revoked_at IS NULL;

-- Bumped by masterkey rotate in its transaction: a gateway whose key went stale notices.
CREATE TABLE master_key_epoch (
  id integer PRIMARY KEY CHECK (id = 1),
  epoch bigint NOT NULL
);
INSERT INTO master_key_epoch (id, epoch) VALUES (1, 0);

-- The change sequence: every write transaction moves it on (under the write lock, so in commit
-- order) and NOTIFYs it; a gateway's snapshot is "the store as of seq N".
CREATE TABLE store_changes (
  id integer PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL
);
INSERT INTO store_changes (id, seq) VALUES (1, 0);

-- The fleet's CA: the certificate, and its private key encrypted under the master key (aad "ca").
CREATE TABLE certificate_authority (
  id integer PRIMARY KEY CHECK (id = 1),
  cert_pem text NOT NULL,
  key_enc bytea NOT NULL,
  created_at bigint NOT NULL
);
`;

export const PG_MIGRATIONS: readonly PgMigration[] = [{ version: 1, sql: V1_STORE }];

/** Any constant: the session lock that makes concurrent migrations of one database take turns. */
const MIGRATION_LOCK = 0x5374_6d67;

/**
 * Brings the database's schema up to date. Two processes starting on the same empty database at
 * once take turns on a session advisory lock, and each migration is applied in its own
 * transaction, so each is applied exactly once.
 */
export async function migratePg(db: PgDb, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<number> {
  const known = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  const client = await db.connect();
  const q = clientQueryable(client, db.display);
  let broken = false;
  try {
    await q.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await q.query('CREATE TABLE IF NOT EXISTS standin_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const current = async (): Promise<number> => (await q.query<{ v: number | null }>('SELECT max(version) AS v FROM standin_migrations'))[0]?.v ?? 0;
    const found = await current();
    if (found > known) throw tooNew(db.display, found, known);
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= found) continue;
      await q.query('BEGIN');
      try {
        await q.query(m.sql);
        await q.query('INSERT INTO standin_migrations (version) VALUES ($1)', [m.version]);
        await q.query('COMMIT');
      } catch (e) {
        await q.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    }
    const final = await current();
    await q.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    return final;
  } catch (e) {
    broken = true;
    throw e;
  } finally {
    // A session lock dies with its connection: a failed run closes it rather than pool it.
    client.release(broken);
  }
}

function tooNew(display: string, found: number, known: number): RuntimeError {
  return new RuntimeError(`database ${display} has schema version ${found}, newer than this standin understands (${known}): upgrade standin`);
}
