import { DEFAULT_TENANT } from '../model/secrets.js';
import type { NetLogQuery } from './types.js';

export interface SqlFilter {
  /** `WHERE ...` or '' */
  where: string;
  params: Record<string, string | number>;
}

/**
 * The WHERE clause of every network-log read (listing, follow, export, stats, viewer). Every
 * value is a bound parameter; the SQL text is chosen only from fixed fragments.
 */
export function netLogFilter(q: NetLogQuery): SqlFilter {
  const where: string[] = [];
  const params: Record<string, string | number> = {};
  if (q.tenant !== undefined) {
    // Rows refused before authentication have no tenant; the gateway operator's tenant sees them.
    where.push(q.tenant === DEFAULT_TENANT ? '(tenant = @tenant OR tenant IS NULL)' : 'tenant = @tenant');
    params.tenant = q.tenant;
  }
  if (q.sandbox !== undefined) {
    where.push('sandbox = @sandbox COLLATE NOCASE');
    params.sandbox = q.sandbox;
  }
  if (q.gateway !== undefined) {
    where.push('gateway = @gateway');
    params.gateway = q.gateway;
  }
  if (q.host !== undefined) {
    const host = q.host.trim().toLowerCase().replace(/\.$/, '');
    if (/[*?]/.test(host)) {
      // A shell-style glob; `[` would open a character class in GLOB, so it only matches itself.
      where.push('host GLOB @host');
      params.host = host.replace(/\[/g, '[[]');
    } else {
      where.push('host = @host');
      params.host = host;
    }
  }
  if (q.decision !== undefined) {
    where.push('decision = @decision');
    params.decision = q.decision;
  }
  if (q.status !== undefined) {
    where.push('status = @status');
    params.status = Math.floor(q.status);
  }
  if (q.method !== undefined) {
    where.push('method = @method');
    params.method = q.method.toUpperCase();
  }
  if (q.secret !== undefined) {
    // `name@version` names one version; a bare name, every version of that secret. The LIKE over
    // the JSON text is a cheap first cut (no row is parsed unless its text could match); json_each
    // then decides exactly.
    const exact = q.secret.includes('@');
    const like = q.secret.replace(/[\\%_]/g, (c) => `\\${c}`);
    where.push(
      exact
        ? "secrets LIKE @secretText ESCAPE '\\' AND EXISTS (SELECT 1 FROM json_each(network_log.secrets) WHERE value = @secret COLLATE NOCASE)"
        : "secrets LIKE @secretText ESCAPE '\\' AND EXISTS (SELECT 1 FROM json_each(network_log.secrets) WHERE value LIKE @secret ESCAPE '\\')",
    );
    params.secret = exact ? q.secret : `${like}@%`;
    params.secretText = exact ? `%"${like}"%` : `%"${like}@%`;
  }
  if (q.since !== undefined) {
    where.push('at >= @since');
    params.since = Math.floor(q.since);
  }
  if (q.until !== undefined) {
    where.push('at < @until');
    params.until = Math.floor(q.until);
  }
  if (q.afterId !== undefined) {
    where.push('id > @afterId');
    params.afterId = Math.floor(q.afterId);
  }
  return { where: where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`, params };
}
