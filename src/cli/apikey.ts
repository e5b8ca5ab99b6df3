import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { API_KEY_ROLES, isApiKeyRole, type ApiKeyInfo } from '../store/apikeys-repo.js';
import type { CliContext } from './context.js';
import { isoTime, orDash, out, printJson, printTable } from './output.js';

/**
 * `standin apikey ...`: keys for the control API on TCP. The key is printed once, by `create`;
 * only its hash is stored. A key belongs to the tenant it is created in (`--tenant`) and reaches
 * nothing of another. Roles: admin (everything in its tenant), operator (sandboxes, bindings,
 * rotation, log), auditor (network log and audit log). Reveal is a separate break-glass
 * permission, off unless `--allow-reveal`, and only the local CLI can grant it.
 */
export function registerApiKey(program: Command, ctx: CliContext): void {
  const apikey = program.command('apikey').description('create and revoke control API keys (for --control HOST:PORT)');

  apikey
    .command('create <name>')
    .description('create a key and print it once (it cannot be shown again)')
    .option('--role <role>', `${API_KEY_ROLES.join(' | ')}`, 'admin')
    .option('--allow-reveal', 'break glass: the key may read values back (POST /v1/secrets/NAME/reveal, with a reason; always audited)')
    .option('--json', 'one JSON document: { name, role, tenant, canReveal, key }')
    .action(async (name: string, o: { role: string; allowReveal?: boolean; json?: boolean }) => {
      if (!isApiKeyRole(o.role)) throw new UsageError(`invalid --role '${o.role.slice(0, 32)}': use ${API_KEY_ROLES.join(', ')}`);
      const store = await ctx.store();
      const canReveal = o.allowReveal === true;
      const { info, key } = await store.apiKeys.create(name, o.role, { tenant: store.tenant, canReveal });
      await store.audit(ctx.actor(), 'apikey.create', info.name, { role: info.role, id: info.id, canReveal });
      if (o.json === true) return printJson({ name: info.name, role: info.role, tenant: info.tenant, canReveal, id: info.id, key });
      out(key);
      const reveal = canReveal ? ', may reveal values' : '';
      process.stderr.write(`created API key ${info.name} (tenant ${info.tenant}, role ${info.role}${reveal}); it is shown only this once\n`);
    });

  apikey
    .command('list')
    .description('list keys (never the keys themselves)')
    .option('--json', 'one JSON document')
    .action(async (o: { json?: boolean }) => {
      // The keys' hashes only: no master key needed (an operator's audit of access).
      const keys = await (await ctx.apiKeys()).list();
      if (o.json === true) return printJson(keys.map(keyJson));
      if (keys.length === 0) return out('no API keys');
      printTable(
        [
          { header: 'NAME', value: (k: ApiKeyInfo) => k.name },
          { header: 'TENANT', value: (k) => k.tenant },
          { header: 'ROLE', value: (k) => k.role },
          { header: 'REVEAL', value: (k) => (k.canReveal ? 'yes' : 'no') },
          { header: 'CREATED', value: (k) => isoTime(k.createdAt) },
          { header: 'LAST USED', value: (k) => (k.lastUsedAt === null ? '-' : isoTime(k.lastUsedAt)) },
          { header: 'REVOKED', value: (k) => orDash(k.revokedAt === null ? null : isoTime(k.revokedAt)) },
        ],
        keys,
      );
    });

  apikey
    .command('revoke <name>')
    .description('revoke a key; it stops working on the next request')
    .action(async (name: string) => {
      const store = await ctx.store();
      const info = await store.apiKeys.revoke(name);
      await store.audit(ctx.actor(), 'apikey.revoke', info.name, { id: info.id });
      out(`revoked API key ${info.name}`);
    });
}

function keyJson(k: ApiKeyInfo): Record<string, unknown> {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    tenant: k.tenant,
    canReveal: k.canReveal,
    createdAt: isoTime(k.createdAt),
    lastUsedAt: k.lastUsedAt === null ? null : isoTime(k.lastUsedAt),
    revokedAt: k.revokedAt === null ? null : isoTime(k.revokedAt),
  };
}
