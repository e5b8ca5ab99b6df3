import type { Command } from 'commander';
import type { AuditEvent } from '../store/types.js';
import type { CliContext } from './context.js';
import { isoTime, out, printJson, printTable } from './output.js';

/**
 * `standin audit`: who changed which secret or sandbox, and when. The store writes these rows with
 * names, versions and env vars only, never a value, token or proxy key, so they print as they are.
 */
export function registerAudit(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description('show the audit log of secret and sandbox changes')
    .option('--json', 'one JSON document')
    .action((o: { json?: boolean }) => {
      const events = ctx.store().listAudit({});
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
          { header: 'ACTOR', value: (e) => e.actor },
          { header: 'ACTION', value: (e) => e.action },
          { header: 'TARGET', value: (e) => e.target },
          { header: 'DETAIL', value: (e) => (Object.keys(e.detail).length === 0 ? '-' : JSON.stringify(e.detail)) },
        ],
        events,
      );
    });
}
