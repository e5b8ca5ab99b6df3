import type { Command } from 'commander';
import { RuntimeError, UsageError } from '../errors.js';
import type { CliContext } from './context.js';

/**
 * `standin secret reveal NAME --reason TEXT`: break-glass read of a value. It is off: the command
 * exists so that an attempt is a recorded event (who, which secret, why) rather than something
 * done quietly with the database and the master key. Every attempt is written to the audit log and
 * then refused; enabling break-glass for some role belongs to the roles work, and would replace
 * `BREAK_GLASS_ENABLED` with that check.
 */
const BREAK_GLASS_ENABLED = false;
const MAX_REASON = 500;

export function registerSecretReveal(secret: Command, ctx: CliContext): void {
  secret
    .command('reveal <name>')
    .description('break-glass: ask for a secret\'s value (disabled; every attempt is audited)')
    .option('--reason <text>', 'why the value is needed (recorded in the audit log)')
    .action((name: string, o: { reason?: string }) => {
      const reason = (o.reason ?? '').trim();
      if (reason === '') throw new UsageError('--reason is required: say why the value is needed');
      if (reason.length > MAX_REASON || /[\u0000-\u001f\u007f]/.test(reason)) {
        throw new UsageError(`--reason must be one line of at most ${MAX_REASON} characters`);
      }
      const store = ctx.store();
      const found = store.getSecret(name);
      const target = found?.name ?? name.slice(0, 64);
      store.audit(ctx.actor(), 'secret.reveal', target, {
        outcome: 'denied',
        reason,
        why: BREAK_GLASS_ENABLED ? 'not implemented' : 'break-glass reveal is disabled',
        ...(found === undefined ? { exists: false } : { version: found.currentVersion }),
      });
      if (found === undefined) throw new UsageError(`no secret named '${name}'`);
      throw new RuntimeError(`refused: revealing secret values is disabled (break-glass is off); the attempt on '${found.name}' was recorded in the audit log`);
    });
}
