import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { API_KEY_ROLES, ApiKeysRepo, isApiKeyRole, type ApiKeyInfo } from '../store/apikeys-repo.js';
import type { CliContext } from './context.js';
import { isoTime, orDash, out, printJson, printTable } from './output.js';

/**
 * `standin apikey ...`: keys for the control API on TCP. The key is printed once, by `create`;
 * only its hash is stored. Roles: admin (everything), operator (sandboxes, bindings, rotation,
 * log), auditor (network log and audit log).
 */
export function registerApiKey(program: Command, ctx: CliContext): void {
  const apikey = program.command('apikey').description('create and revoke control API keys (for --control HOST:PORT)');

  apikey
    .command('create <name>')
    .description('create a key and print it once (it cannot be shown again)')
    .option('--role <role>', `${API_KEY_ROLES.join(' | ')}`, 'admin')
    .option('--json', 'one JSON document: { name, role, key }')
    .action((name: string, o: { role: string; json?: boolean }) => {
      if (!isApiKeyRole(o.role)) throw new UsageError(`invalid --role '${o.role.slice(0, 32)}': use ${API_KEY_ROLES.join(', ')}`);
      const store = ctx.store();
      const { info, key } = new ApiKeysRepo(ctx.db()).create(name, o.role);
      store.audit(ctx.actor(), 'apikey.create', info.name, { role: info.role, id: info.id });
      if (o.json === true) return printJson({ name: info.name, role: info.role, id: info.id, key });
      out(key);
      process.stderr.write(`created API key ${info.name} (role ${info.role}); it is shown only this once\n`);
    });

  apikey
    .command('list')
    .description('list keys (never the keys themselves)')
    .option('--json', 'one JSON document')
    .action((o: { json?: boolean }) => {
      const keys = new ApiKeysRepo(ctx.db()).list();
      if (o.json === true) return printJson(keys.map(keyJson));
      if (keys.length === 0) return out('no API keys');
      printTable(
        [
          { header: 'NAME', value: (k: ApiKeyInfo) => k.name },
          { header: 'ROLE', value: (k) => k.role },
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
    .action((name: string) => {
      const store = ctx.store();
      const info = new ApiKeysRepo(ctx.db()).revoke(name);
      store.audit(ctx.actor(), 'apikey.revoke', info.name, { id: info.id });
      out(`revoked API key ${info.name}`);
    });
}

function keyJson(k: ApiKeyInfo): Record<string, unknown> {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    createdAt: isoTime(k.createdAt),
    lastUsedAt: k.lastUsedAt === null ? null : isoTime(k.lastUsedAt),
    revokedAt: k.revokedAt === null ? null : isoTime(k.revokedAt),
  };
}
