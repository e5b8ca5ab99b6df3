import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { parseSince } from '../netlog/sanitize.js';
import { secretUsage, secretUsageOfRows, type UsageCounts } from '../store/usage.js';
import type { CliContext } from './context.js';
import { isoTime, out, printJson, printTable, type Column } from './output.js';

/** `standin secret usage NAME`: how often, from which sandboxes, to which hosts, per version. */
export function registerSecretUsage(secret: Command, ctx: CliContext): void {
  secret
    .command('usage <name>')
    .description('how a secret is used: requests per version, sandbox and host, from the network log')
    .option('--since <time>', 'only requests since an ISO 8601 time or an age (30s, 15m, 2h, 7d)')
    .option('--json', 'one JSON document')
    .action(async (name: string, o: { since?: string; json?: boolean }) => {
      const since = o.since === undefined ? undefined : parseSince(o.since);
      const info = await (await ctx.store()).getSecret(name);
      if (info === undefined) throw new UsageError(`no secret named '${name}'`);
      const tenant = await ctx.tenant();
      // On a fleet the log is PostgreSQL's, shared by every gateway; on one machine one SQL query.
      const u =
        ctx.database().kind === 'postgres'
          ? await secretUsageOfRows((await ctx.netlog()).iterate({ tenant, secret: info.name, ...(since === undefined ? {} : { since }) }), info.name)
          : secretUsage(ctx.db(), tenant, info.name, since);
      const time = (ms: number): string | null => (ms === 0 ? null : isoTime(ms));
      const dated = <T extends UsageCounts>(c: T): T & { firstUsed: string | null; lastUsed: string | null } =>
        ({ ...c, firstUsed: time(c.firstUsed), lastUsed: time(c.lastUsed) }) as T & { firstUsed: string | null; lastUsed: string | null };
      if (o.json === true) {
        return printJson({
          secret: info.name,
          currentVersion: info.currentVersion,
          environments: info.environments,
          ...dated(u),
          versions: u.versions.map(dated),
          sandboxes: u.sandboxes.map(dated),
          hosts: u.hosts.map(dated),
        });
      }
      if (u.requests === 0) return out(`secret ${info.name} has not been used${o.since === undefined ? '' : ' in that period'}`);
      out(`secret ${info.name}: ${u.requests} requests (${u.swapped} swapped, ${u.refused} refused, ${u.errors} failed), last ${isoTime(u.lastUsed)}`);
      const versionLabel = (v: number): string => {
        const env = info.environments.find((e) => e.versions.includes(v));
        if (env === undefined) return `v${v} (deleted)`;
        return `v${v} (${env.name}${env.currentVersion === v ? ', current' : ''})`;
      };
      section('VERSION', (r: UsageCounts & { version: number }) => versionLabel(r.version), u.versions);
      section('SANDBOX', (r: UsageCounts & { sandbox: string }) => r.sandbox, u.sandboxes);
      section('HOST', (r: UsageCounts & { host: string; port: number }) => (r.port === 443 ? r.host : `${r.host}:${r.port}`), u.hosts);
    });
}

function section<T extends UsageCounts>(header: string, key: (r: T) => string, rows: readonly T[]): void {
  const columns: Column<T>[] = [
    { header, value: key },
    { header: 'REQUESTS', value: (r) => String(r.requests) },
    { header: 'SWAPPED', value: (r) => String(r.swapped) },
    { header: 'REFUSED', value: (r) => String(r.refused) },
    { header: 'FAILED', value: (r) => String(r.errors) },
    { header: 'LAST USED', value: (r) => isoTime(r.lastUsed) },
  ];
  out('');
  printTable(columns, rows);
}
