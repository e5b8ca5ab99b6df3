import type { Command } from 'commander';
import type { TenantInfo } from '../store/types.js';
import type { CliContext } from './context.js';
import { isoTime, out, printJson, printTable } from './output.js';

/**
 * `standin tenant ...`: the teams that share one gateway. Every secret, sandbox, API key and log
 * row belongs to one tenant; the global `--tenant` picks the one a command works in.
 */
export function registerTenant(program: Command, ctx: CliContext): void {
  const tenant = program.command('tenant').description('create and list tenants (each owns its secrets, sandboxes, keys and log rows)');

  tenant
    .command('create <name>')
    .description('create a tenant (1-32 lower-case letters, digits or -)')
    .action(async (name: string) => {
      const info = await (await ctx.store()).createTenant(name, ctx.actor());
      out(`created tenant ${info.name}`);
    });

  tenant
    .command('list')
    .description('list tenants')
    .option('--json', 'one JSON document')
    .action(async (o: { json?: boolean }) => {
      const tenants = await (await ctx.store()).listTenants();
      if (o.json === true) return printJson(tenants.map((t) => ({ name: t.name, createdAt: isoTime(t.createdAt) })));
      printTable(
        [
          { header: 'NAME', value: (t: TenantInfo) => t.name },
          { header: 'CREATED', value: (t) => isoTime(t.createdAt) },
        ],
        tenants,
      );
    });
}
