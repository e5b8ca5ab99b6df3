/**
 * Column lists shared by the PostgreSQL queries; they produce the row shapes of rows.ts (JSON
 * arrays as text), so both backends map rows to SecretInfo/SandboxInfo/BindingInfo in one place.
 */
export const PG_SECRET_COLUMNS = `s.id, s.tenant, s.name, s.scheme, s.hosts, s.provider, s.created_at, s.updated_at, s.keep_versions,
  (SELECT coalesce(json_agg(json_build_array(v.version, v.environment)), '[]'::json)::text FROM secret_versions v WHERE v.secret_id = s.id) AS versions,
  (SELECT coalesce(json_agg(json_build_array(c.environment, c.version)), '[]'::json)::text FROM secret_current c WHERE c.secret_id = s.id) AS currents`;

export const PG_SANDBOX_COLUMNS = 'x.id, x.tenant, x.name, x.environment, x.allow_hosts, x.created_at';

export const PG_BINDING_COLUMNS = 'b.sandbox_id, b.env, b.secret_id, s.name AS secret_name, b.token, b.created_at';

/** Names compare case-insensitively (they are ASCII, so lower() is exact). */
export const BY_NAME = 'lower(name) = lower($2)';
