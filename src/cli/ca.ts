import type { Command } from 'commander';
import type { CliContext } from './context.js';

/**
 * `standin ca export`: the CA certificate that sandboxes trust, for installing it by hand (a
 * container image, a system trust store). Only the certificate; the key never leaves the home.
 */
export function registerCa(program: Command, ctx: CliContext): void {
  const ca = program.command('ca').description('the certificate authority sandboxes trust');
  ca.command('export')
    .description('print the CA certificate (PEM) on stdout')
    .action(() => {
      const pem = ctx.caPem();
      process.stdout.write(pem.endsWith('\n') ? pem : `${pem}\n`);
    });
}
