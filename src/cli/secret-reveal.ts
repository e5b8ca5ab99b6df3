import type { Command } from 'commander';
import { RuntimeError, UsageError } from '../errors.js';
import type { CliContext } from './context.js';

/**
 * `standin secret reveal NAME --reason TEXT`: the CLI never prints a value (the contract every
 * script relies on), so here the attempt is recorded (who, which secret, why) and refused. The
 * break-glass path is the control API, for an API key granted the reveal permission
 * (`standin apikey create NAME --allow-reveal`), where every call is audited too.
 */
const MAX_REASON = 500;

export function registerSecretReveal(secret: Command, ctx: CliContext): void {
  secret
    .command('reveal <name>')
    .description('break-glass: ask for a secret\'s value (disabled; every attempt is audited)')
    .option('--reason <text>', 'why the value is needed (recorded in the audit log)')
    .action(async (name: string, o: { reason?: string }) => {
      const reason = (o.reason ?? '').trim();
      if (reason === '') throw new UsageError('--reason is required: say why the value is needed');
      if (reason.length > MAX_REASON || /[\u0000-\u001f\u007f]/.test(reason)) {
        throw new UsageError(`--reason must be one line of at most ${MAX_REASON} characters`);
      }
      const store = await ctx.store();
      const found = await store.getSecret(name);
      const target = found?.name ?? name.slice(0, 64);
      await store.audit(ctx.actor(), 'secret.reveal', target, {
        allowed: false,
        reason,
        why: 'the CLI never prints values',
        ...(found === undefined ? { exists: false } : {}),
      });
      if (found === undefined) throw new UsageError(`no secret named '${name}'`);
      throw new RuntimeError(
        `refused: the CLI never prints a value; break glass through the control API with a key made by \`standin apikey create NAME --allow-reveal\` (the attempt on '${found.name}' was recorded in the audit log)`,
      );
    });
}
