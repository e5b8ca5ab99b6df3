import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { parseSince } from '../netlog/sanitize.js';
import type { AuditEvent, AuditFilter } from '../store/types.js';
import type { CliContext } from './context.js';
import { isoTime, out, printJson, printTable } from './output.js';

interface AuditOptions {
  action?: string;
  target?: string;
  actor?: string;
  since?: string;
  limit?: string;
  json?: boolean;
  allTenants?: boolean;
}

/**
 * `standin audit`: who changed which secret or sandbox, and when. The store writes these rows with
 * names, versions and env vars only, never a value, token or proxy key, so they print as they are.
 */
export function registerAudit(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description('show the audit log: secret, sandbox and key changes, reveal attempts')
    .option('--action <action>', 'only this action (secret.rotate), or a prefix ending in * (secret.*)')
    .option('--target <name>', 'only events about this secret or sandbox')
    .option('--actor <actor>', 'only events by this actor (cli:alice)')
    .option('--since <time>', 'only events since an ISO 8601 time or an age (30s, 15m, 2h, 7d)')
    .option('--limit <n>', 'the newest N events')
    .option('--json', 'one JSON document')
    .option('--all-tenants', 'every tenant\'s events (default: the --tenant\'s)')
    .action(async (o: AuditOptions) => {
      const events = await (await ctx.store()).listAudit({ ...toFilter(o), allTenants: o.allTenants === true });
      if (o.json === true) {
        printJson(events.map((e) => ({ ...e, at: isoTime(e.at) })));
        return;
      }
      if (events.length === 0) {
        out('no audit events');
        return;
      }
      printTable(
        [
          { header: 'TIME', value: (e: AuditEvent) => isoTime(e.at) },
          ...(o.allTenants === true ? [{ header: 'TENANT', value: (e: AuditEvent) => e.tenant }] : []),
          { header: 'ACTOR', value: (e) => e.actor },
          { header: 'ACTION', value: (e) => e.action },
          { header: 'TARGET', value: (e) => e.target },
          { header: 'DETAIL', value: (e) => (Object.keys(e.detail).length === 0 ? '-' : JSON.stringify(e.detail)) },
        ],
        events,
      );
    });
}

function toFilter(o: AuditOptions): AuditFilter {
  const f: AuditFilter = {};
  for (const key of ['action', 'target', 'actor'] as const) {
    const v = o[key];
    if (v === undefined) continue;
    if (v.trim() === '') throw new UsageError(`--${key} needs a value`);
    f[key] = v.trim();
  }
  if (f.action !== undefined && !/^[a-z0-9._-]+\*?$/i.test(f.action)) {
    throw new UsageError(`invalid --action '${f.action}': e.g. secret.rotate or secret.*`);
  }
  if (o.since !== undefined) f.since = parseSince(o.since);
  if (o.limit !== undefined) {
    if (!/^\d{1,6}$/.test(o.limit.trim())) throw new UsageError(`invalid --limit '${o.limit}': use a number from 0 to 999999`);
    f.limit = Number(o.limit.trim());
  }
  return f;
}
