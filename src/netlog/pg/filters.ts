import { DEFAULT_TENANT } from '../../model/secrets.js';
import type { NetLogQuery } from '../types.js';

export interface PgFilter {
  /** `WHERE ...` or '' */
  where: string;
  values: (string | number)[];
}

/**
 * The WHERE clause of every PostgreSQL network-log read: the same filters as SQLite's
 * (filters.ts), meaning the same. Every value is a bound parameter ($n, after `offset` ones the
 * caller binds first); the SQL text is chosen only from fixed fragments.
 */
export function pgNetLogFilter(q: NetLogQuery, offset = 0): PgFilter {
  const where: string[] = [];
  const values: (string | number)[] = [];
  const bind = (v: string | number): string => {
    values.push(v);
    return `$${offset + values.length}`;
  };
  if (q.tenant !== undefined) {
    // Rows refused before authentication have no tenant; the gateway operator's tenant sees them.
    const t = bind(q.tenant);
    where.push(q.tenant === DEFAULT_TENANT ? `(tenant = ${t} OR tenant IS NULL)` : `tenant = ${t}`);
  }
  // SQLite compares sandbox names with NOCASE (ASCII): lower() on both sides, as the index is built.
  if (q.sandbox !== undefined) where.push(`lower(sandbox) = lower(${bind(q.sandbox)})`);
  if (q.gateway !== undefined) where.push(`gateway = ${bind(q.gateway)}`);
  if (q.host !== undefined) {
    const host = q.host.trim().toLowerCase().replace(/\.$/, '');
    if (/[*?]/.test(host)) {
      // The shell-style glob as LIKE: its own wildcards escaped first, then * and ? mapped.
      const like = host.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%').replace(/\?/g, '_');
      where.push(`host LIKE ${bind(like)}`);
    } else {
      where.push(`host = ${bind(host)}`);
    }
  }
  if (q.decision !== undefined) where.push(`decision = ${bind(q.decision)}`);
  if (q.status !== undefined) where.push(`status = ${bind(Math.floor(q.status))}`);
  if (q.method !== undefined) where.push(`method = ${bind(q.method.toUpperCase())}`);
  if (q.secret !== undefined) {
    // As in SQLite: a cheap ILIKE over the JSON text first, then the array decides exactly.
    const exact = q.secret.includes('@');
    const like = q.secret.replace(/[\\%_]/g, (c) => `\\${c}`);
    const text = bind(exact ? `%"${like}"%` : `%"${like}@%`);
    const one = bind(exact ? q.secret : `${like}@%`);
    where.push(
      `secrets ILIKE ${text} AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(network_log.secrets::jsonb) AS s(v) WHERE ${
        exact ? `lower(s.v) = lower(${one})` : `s.v ILIKE ${one}`
      })`,
    );
  }
  if (q.since !== undefined) where.push(`at >= ${bind(Math.floor(q.since))}`);
  if (q.until !== undefined) where.push(`at < ${bind(Math.floor(q.until))}`);
  if (q.afterId !== undefined) where.push(`id > ${bind(Math.floor(q.afterId))}`);
  return { where: where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`, values };
}
