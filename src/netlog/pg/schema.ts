import type { Pool } from 'pg';
import { inTransaction } from './client.js';

/**
 * The network log's tables in PostgreSQL, and their migrations. `network_log` is partitioned by
 * day on `at` (partitions.ts makes them ahead of the rows and drops them for retention); the
 * unique key is (request_id, at) because a partitioned table's unique keys must hold the
 * partition key, and a row's `at` (when its exchange started) never changes between the row
 * written at forward time and the one that completes it. Each gateway's chain head lives in
 * `network_log_heads`, one row per gateway: a writer locks only its own, so gateways never contend.
 *
 * `bytes_*`, `at`, `chain_seq` are bigint (read back as strings by pg: the readers convert);
 * `secrets` and `detail` are text, not jsonb, because the hash covers their exact text and jsonb
 * would re-space it.
 */

// pg_advisory_xact_lock keys (two int4: an app tag and what is locked). Held for a transaction.
export const LOCK_APP = 0x5354_4e44; // 'STND'
export const LOCK_MIGRATE = 1;
export const LOCK_PARTITIONS = 2;

interface PgMigration {
  version: number;
  sql: string;
}

const V1 = `
CREATE SEQUENCE network_log_id_seq AS bigint;
CREATE TABLE network_log (
  id bigint NOT NULL DEFAULT nextval('network_log_id_seq'),
  gateway text NOT NULL,
  request_id text NOT NULL,
  at bigint NOT NULL,
  tenant text,
  sandbox text,
  method text NOT NULL,
  scheme text NOT NULL,
  host text NOT NULL,
  port integer NOT NULL,
  path text NOT NULL,
  status integer NOT NULL,
  decision text NOT NULL,
  secrets text NOT NULL,
  bytes_in bigint NOT NULL,
  bytes_out bigint NOT NULL,
  duration_ms bigint NOT NULL,
  upstream_ip text,
  error_code text,
  complete boolean NOT NULL,
  detail text,
  chain_seq bigint,
  hash text,
  PRIMARY KEY (id, at),
  UNIQUE (request_id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE network_log_id_seq OWNED BY network_log.id;
-- Each listing filter's index ends in (at, id), the listing's order: the newest N come off the
-- index of the newest partitions without a sort.
CREATE INDEX network_log_at ON network_log (at, id);
CREATE INDEX network_log_tenant_at ON network_log (tenant, at, id);
CREATE INDEX network_log_sandbox_at ON network_log (lower(sandbox), at, id);
CREATE INDEX network_log_host_at ON network_log (host, at, id);
CREATE INDEX network_log_chain ON network_log (gateway, chain_seq) WHERE chain_seq IS NOT NULL;
CREATE INDEX network_log_unsealed ON network_log (at) WHERE chain_seq IS NULL;
CREATE TABLE network_log_heads (
  gateway text PRIMARY KEY,
  seq bigint NOT NULL,
  hash text NOT NULL
);
CREATE TABLE network_log_anchor (
  id bigserial PRIMARY KEY,
  gateway text NOT NULL,
  at bigint NOT NULL,
  upto_seq bigint NOT NULL,
  hash text NOT NULL,
  rows bigint NOT NULL
);
CREATE INDEX network_log_anchor_gateway ON network_log_anchor (gateway, id);
`;

export const NETLOG_PG_MIGRATIONS: readonly PgMigration[] = [{ version: 1, sql: V1 }];

/**
 * Brings the log's tables to the current version. Safe to run from several gateways at once:
 * the whole run holds a transaction-scoped advisory lock, so the second waits and then finds
 * nothing to do. (The store's migrations can call this inside their own run.)
 */
export async function migrateNetLogPg(pool: Pool): Promise<number> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_APP, LOCK_MIGRATE]);
    await client.query('CREATE TABLE IF NOT EXISTS network_log_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM network_log_migrations');
    let version = done.rows[0]?.v ?? 0;
    for (const m of NETLOG_PG_MIGRATIONS) {
      if (m.version <= version) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO network_log_migrations (version) VALUES ($1)', [m.version]);
      version = m.version;
    }
    return version;
  });
}
