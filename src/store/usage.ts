import type { StoredNetLogRow } from '../netlog/types.js';
import type { Db } from './database.js';

/**
 * How a secret has been used, from the network log: each row lists the secrets it swapped (or
 * that were misused) as `name@version` in a JSON array; this counts the rows naming one secret,
 * by version, sandbox and host. Names are case-insensitive, like the secrets themselves. A secret
 * deleted and created again under the same name shares its history with the old one.
 */
export interface UsageCounts {
  requests: number; // rows naming the secret
  swapped: number; // the real value was applied
  refused: number; // token_misuse or denied: the value was not sent
  errors: number; // failed after the decision (upstream errors, undecryptable value)
  firstUsed: number; // epoch ms
  lastUsed: number;
}

export interface SecretUsage extends UsageCounts {
  versions: (UsageCounts & { version: number })[];
  sandboxes: (UsageCounts & { sandbox: string })[];
  hosts: (UsageCounts & { host: string; port: number })[];
}

interface GroupRow {
  version: number;
  sandbox: string | null;
  host: string;
  port: number;
  decision: string;
  requests: number;
  first: number;
  last: number;
}

const QUERY = `
SELECT CAST(substr(j.value, instr(j.value, '@') + 1) AS INTEGER) AS version, n.sandbox, n.host, n.port, n.decision,
       COUNT(*) AS requests, MIN(n.at) AS first, MAX(n.at) AS last
FROM network_log n,
     json_each(CASE WHEN json_valid(n.secrets) THEN n.secrets ELSE '[]' END) j
WHERE n.at >= @since
  AND n.tenant = @tenant
  AND n.secrets LIKE '%' || @name || '@%'
  AND j.type = 'text' AND instr(j.value, '@') > 0
  AND substr(j.value, 1, instr(j.value, '@') - 1) = @name COLLATE NOCASE
GROUP BY version, n.sandbox, n.host, n.port, n.decision`;

/** Usage of a tenant's secret: rows of that tenant's sandboxes naming it (names repeat across tenants). */
export function secretUsage(db: Db, tenant: string, name: string, since?: number): SecretUsage {
  const rows = db
    .prepare<{ tenant: string; name: string; since: number }, GroupRow>(QUERY)
    .all({ tenant, name: name.trim(), since: since ?? Number.MIN_SAFE_INTEGER });
  return fromGroups(rows);
}

/**
 * The same counts from network-log rows read through any backend (PostgreSQL's shared log): the
 * rows are those the `secret` filter selects for the tenant; each `name@version` entry of a row
 * that names this secret counts as in the SQL above.
 */
export async function secretUsageOfRows(rows: AsyncIterable<StoredNetLogRow>, name: string): Promise<SecretUsage> {
  const wanted = name.trim().toLowerCase();
  const groups = new Map<string, GroupRow>();
  for await (const r of rows) {
    for (const entry of r.secrets) {
      const at = entry.lastIndexOf('@');
      if (at <= 0 || entry.slice(0, at).toLowerCase() !== wanted) continue;
      const version = Number.parseInt(entry.slice(at + 1), 10);
      if (!Number.isInteger(version)) continue;
      const key = JSON.stringify([version, r.sandbox, r.host, r.port, r.decision]);
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { version, sandbox: r.sandbox, host: r.host, port: r.port, decision: r.decision, requests: 1, first: r.at, last: r.at });
      else {
        g.requests += 1;
        g.first = Math.min(g.first, r.at);
        g.last = Math.max(g.last, r.at);
      }
    }
  }
  return fromGroups([...groups.values()]);
}

function fromGroups(rows: readonly GroupRow[]): SecretUsage {
  const total = empty();
  const versions = new Map<number, UsageCounts>();
  const sandboxes = new Map<string, UsageCounts>();
  const hosts = new Map<string, UsageCounts & { host: string; port: number }>();
  for (const r of rows) {
    add(total, r);
    add(get(versions, r.version, empty), r);
    add(get(sandboxes, r.sandbox ?? '-', empty), r);
    add(get(hosts, `${r.host}:${r.port}`, () => ({ ...empty(), host: r.host, port: r.port })), r);
  }
  const byLast = <T extends UsageCounts>(a: T, b: T): number => b.lastUsed - a.lastUsed;
  return {
    ...total,
    versions: [...versions].map(([version, c]) => ({ version, ...c })).sort((a, b) => b.version - a.version),
    sandboxes: [...sandboxes].map(([sandbox, c]) => ({ sandbox, ...c })).sort(byLast),
    hosts: [...hosts.values()].sort(byLast),
  };
}

function empty(): UsageCounts {
  return { requests: 0, swapped: 0, refused: 0, errors: 0, firstUsed: 0, lastUsed: 0 };
}

function get<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

function add(c: UsageCounts, r: GroupRow): void {
  c.requests += r.requests;
  if (r.decision === 'swapped') c.swapped += r.requests;
  else if (r.decision === 'error') c.errors += r.requests;
  else c.refused += r.requests;
  c.firstUsed = c.firstUsed === 0 ? r.first : Math.min(c.firstUsed, r.first);
  c.lastUsed = Math.max(c.lastUsed, r.last);
}
