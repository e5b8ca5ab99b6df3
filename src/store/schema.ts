/**
 * Schema migrations, applied in order by openDatabase. The database's `PRAGMA user_version` is the
 * number of the last migration applied. A migration, once released, never changes: a new need is
 * a new entry at the end of the list.
 */
export interface Migration {
  version: number;
  sql: string;
  /**
   * The migration rebuilds tables that others reference (SQLite cannot drop a UNIQUE constraint
   * in place): it runs with foreign keys off, as SQLite's table-rebuild procedure requires, and
   * the references are checked before it commits.
   */
  rebuildsTables?: boolean;
}

const V1 = `
CREATE TABLE secrets (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  scheme TEXT NOT NULL,            -- JSON SchemeSpec
  hosts TEXT NOT NULL,             -- JSON array of host patterns
  provider TEXT,
  current_version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE secret_versions (
  secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  ciphertext BLOB NOT NULL,        -- AES-256-GCM, aad "<secret_id>:<version>"
  created_at INTEGER NOT NULL,
  PRIMARY KEY (secret_id, version)
);

CREATE TABLE sandboxes (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  allow_hosts TEXT NOT NULL,       -- JSON array of host patterns; empty = any public host
  proxy_key_hash BLOB NOT NULL,    -- sha256 of the proxy key, checked on every connection
  proxy_key_enc BLOB NOT NULL,     -- AES-256-GCM, aad "sandbox:<id>", for sandbox env / run
  created_at INTEGER NOT NULL
);

CREATE TABLE bindings (
  sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  env TEXT NOT NULL,
  secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (sandbox_id, env)
);
CREATE UNIQUE INDEX bindings_token ON bindings(token);
-- Deleting a secret cascades into bindings; without this the cascade scans the table.
CREATE INDEX bindings_secret ON bindings(secret_id);

CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}'  -- JSON object; never a value, proxy key or token
);
CREATE INDEX audit_at ON audit(at);

CREATE TABLE network_log (
  id INTEGER PRIMARY KEY,
  request_id TEXT NOT NULL,
  at INTEGER NOT NULL,           -- epoch ms
  sandbox TEXT,
  method TEXT NOT NULL,
  scheme TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  path TEXT NOT NULL,
  status INTEGER NOT NULL,
  decision TEXT NOT NULL,
  secrets TEXT NOT NULL,         -- JSON array of "name@version"
  bytes_in INTEGER NOT NULL,
  bytes_out INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  upstream_ip TEXT,
  error_code TEXT
);
CREATE INDEX network_log_at ON network_log(at);
CREATE INDEX network_log_sandbox_at ON network_log(sandbox, at);
CREATE INDEX network_log_host_at ON network_log(host, at);
CREATE INDEX network_log_decision_at ON network_log(decision, at);
CREATE INDEX network_log_request_id ON network_log(request_id);
`;

// Control API keys (issue #6): only a sha256 of each key is kept; a revoked key stays listed.
const V2_API_KEYS = `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL COLLATE NOCASE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
  key_hash BLOB NOT NULL,          -- sha256 of the key; the key itself is shown once, at creation
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys(name COLLATE NOCASE) WHERE revoked_at IS NULL;
`;

// Version retention (issue #5): how many versions of a secret rotation keeps; NULL = the default (5).
const V3_VERSION_RETENTION = `
ALTER TABLE secrets ADD COLUMN keep_versions INTEGER;
`;

// Tenants and environments (issue #5). Names become unique per tenant, which needs a rebuild of
// secrets and sandboxes. A secret's versions share one sequence across environments (so
// `name@version` in the network log names exactly one value) and each environment has its own
// current version. Every existing row belongs to the tenant `default` and environment `default`.
const V4_TENANTS_ENVIRONMENTS = `
CREATE TABLE tenants (
  name TEXT PRIMARY KEY,           -- lower case, checked by the store
  created_at INTEGER NOT NULL
);
INSERT INTO tenants (name, created_at) VALUES ('default', CAST(unixepoch('subsec') * 1000 AS INTEGER));

ALTER TABLE secret_versions ADD COLUMN environment TEXT NOT NULL DEFAULT 'default';

CREATE TABLE secret_current (
  secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  environment TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (secret_id, environment)
);
INSERT INTO secret_current (secret_id, environment, version) SELECT id, 'default', current_version FROM secrets;

CREATE TABLE secrets_v4 (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants(name),
  name TEXT NOT NULL COLLATE NOCASE,
  scheme TEXT NOT NULL,
  hosts TEXT NOT NULL,
  provider TEXT,
  keep_versions INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (tenant, name)
);
INSERT INTO secrets_v4 (id, tenant, name, scheme, hosts, provider, keep_versions, created_at, updated_at)
  SELECT id, 'default', name, scheme, hosts, provider, keep_versions, created_at, updated_at FROM secrets;
DROP TABLE secrets;
ALTER TABLE secrets_v4 RENAME TO secrets;

CREATE TABLE sandboxes_v4 (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants(name),
  name TEXT NOT NULL COLLATE NOCASE,
  environment TEXT NOT NULL DEFAULT 'default',
  allow_hosts TEXT NOT NULL,
  proxy_key_hash BLOB NOT NULL,
  proxy_key_enc BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (tenant, name)
);
INSERT INTO sandboxes_v4 (id, tenant, name, environment, allow_hosts, proxy_key_hash, proxy_key_enc, created_at)
  SELECT id, 'default', name, 'default', allow_hosts, proxy_key_hash, proxy_key_enc, created_at FROM sandboxes;
DROP TABLE sandboxes;
ALTER TABLE sandboxes_v4 RENAME TO sandboxes;
-- The proxy finds a sandbox by its key (names repeat across tenants).
CREATE UNIQUE INDEX sandboxes_proxy_key ON sandboxes(proxy_key_hash);

-- A binding joins a sandbox and a secret of one tenant, whatever code writes it.
CREATE TRIGGER bindings_same_tenant_insert BEFORE INSERT ON bindings
WHEN (SELECT tenant FROM secrets WHERE id = NEW.secret_id) IS NOT (SELECT tenant FROM sandboxes WHERE id = NEW.sandbox_id)
BEGIN SELECT RAISE(ABORT, 'a binding cannot cross tenants'); END;
CREATE TRIGGER bindings_same_tenant_update BEFORE UPDATE OF secret_id, sandbox_id ON bindings
WHEN (SELECT tenant FROM secrets WHERE id = NEW.secret_id) IS NOT (SELECT tenant FROM sandboxes WHERE id = NEW.sandbox_id)
BEGIN SELECT RAISE(ABORT, 'a binding cannot cross tenants'); END;

ALTER TABLE audit ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
CREATE INDEX audit_tenant_at ON audit(tenant, at);

-- NULL: refused before the sandbox was known (bad proxy credentials); shown with tenant default.
ALTER TABLE network_log ADD COLUMN tenant TEXT;
UPDATE network_log SET tenant = 'default' WHERE sandbox IS NOT NULL;
CREATE INDEX network_log_tenant_at ON network_log(tenant, at);

ALTER TABLE api_keys ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
-- Break-glass permission to read a value back; off unless granted when the key is created.
ALTER TABLE api_keys ADD COLUMN can_reveal INTEGER NOT NULL DEFAULT 0;
`;

// Master key rotation (issue #5): bumped in the rotation's transaction, so that a running gateway
// sees that its key is stale before it encrypts or decrypts anything with it.
const V5_MASTER_KEY_EPOCH = `
CREATE TABLE master_key_epoch (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  epoch INTEGER NOT NULL
);
INSERT INTO master_key_epoch (id, epoch) VALUES (1, 0);
`;

// Scrubbing after unbind (issue #12): a value a sandbox used stays one to scrub from its responses
// for a while after its binding is removed or replaced; one row per sandbox and secret, the latest.
const V6_RECENT_UNBINDS = `
CREATE TABLE recent_unbinds (
  sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  token TEXT NOT NULL,
  unbound_at INTEGER NOT NULL,
  PRIMARY KEY (sandbox_id, secret_id)
);
`;

// Rows that survive a crash (issue #12): a row is written when a request is forwarded and completed
// when the exchange ends; `complete = 0` is an exchange the gateway never saw end. One row per
// request id, so completing it is an upsert.
const V7_NETLOG_COMPLETE = `
ALTER TABLE network_log ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
DROP INDEX network_log_request_id;
CREATE UNIQUE INDEX network_log_request_id ON network_log(request_id);
`;

// Network-log inspection (issue 15; the lead renumbers on merge): `detail` is what `log explain`
// reads (JSON: placements with values redacted, what the response was scrubbed of, our reason for a
// refusal; never a value, never a whole stand-in). `chain_seq`/`hash` chain the completed rows in
// the order they were completed (see src/netlog/chain.ts); a row written before this migration, or
// never completed, has neither. `network_log_anchor` records where retention cut the chain, so the
// rows that remain still verify. The status filter gets an index; the sandbox index takes the
// filter's collation (NOCASE), which a BINARY index cannot serve.
const V8_NETLOG_INSPECTION_ISSUE15 = `
ALTER TABLE network_log ADD COLUMN detail TEXT;
ALTER TABLE network_log ADD COLUMN chain_seq INTEGER;
ALTER TABLE network_log ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX network_log_chain_seq ON network_log(chain_seq) WHERE chain_seq IS NOT NULL;
CREATE INDEX network_log_status_at ON network_log(status, at);
DROP INDEX network_log_sandbox_at;
CREATE INDEX network_log_sandbox_at ON network_log(sandbox COLLATE NOCASE, at);
CREATE TABLE network_log_anchor (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,             -- epoch ms of the pruning
  upto_seq INTEGER NOT NULL,       -- rows with chain_seq <= this were deleted
  hash TEXT NOT NULL,              -- hash of the row at upto_seq: what the next row chains to
  rows INTEGER NOT NULL            -- rows deleted by this pruning
);
`;

// Fleet mode, network-log side (issue 16b; the lead renumbers on merge): every row names the gateway
// that wrote it, and each gateway has a chain of its own (chain_seq counts per gateway), so that
// gateways sharing a log never contend on one head. Rows written before have gateway '' (one chain,
// hashed as they were); retention anchors are per gateway too.
const V9_NETLOG_GATEWAY_ISSUE16 = `
ALTER TABLE network_log ADD COLUMN gateway TEXT NOT NULL DEFAULT '';
DROP INDEX network_log_chain_seq;
CREATE UNIQUE INDEX network_log_chain_seq ON network_log(gateway, chain_seq) WHERE chain_seq IS NOT NULL;
ALTER TABLE network_log_anchor ADD COLUMN gateway TEXT NOT NULL DEFAULT '';
CREATE INDEX network_log_anchor_gateway ON network_log_anchor(gateway, id);
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, sql: V1 },
  { version: 2, sql: V2_API_KEYS },
  { version: 3, sql: V3_VERSION_RETENTION },
  { version: 4, sql: V4_TENANTS_ENVIRONMENTS, rebuildsTables: true },
  { version: 5, sql: V5_MASTER_KEY_EPOCH },
  { version: 6, sql: V6_RECENT_UNBINDS },
  { version: 7, sql: V7_NETLOG_COMPLETE },
  { version: 8, sql: V8_NETLOG_INSPECTION_ISSUE15 },
  { version: 9, sql: V9_NETLOG_GATEWAY_ISSUE16 },
];

export const SCHEMA_VERSION = MIGRATIONS.length;
