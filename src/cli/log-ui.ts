import type { Command } from 'commander';
import { RuntimeError, UsageError } from '../errors.js';
import { startViewerServer } from '../control/viewer-server.js';
import type { CliContext } from './context.js';
import { out } from './output.js';

/**
 * `standin log ui`: the web viewer of the --tenant's log on 127.0.0.1 until interrupted. Prints
 * a one-time URL; the browser that opens it first gets the session.
 */
export function registerLogUi(log: Command, ctx: CliContext): void {
  log
    .command('ui')
    .description('a read-only web viewer on 127.0.0.1; prints a one-time URL')
    .option('--port <n>', 'port to listen on (default: any free one)')
    .action(async (o: { port?: string }) => {
      if (o.port !== undefined && !/^\d{1,5}$/.test(o.port.trim())) throw new UsageError(`invalid --port '${o.port.slice(0, 16)}': use a number from 0 to 65535`);
      const port = o.port === undefined ? 0 : Number(o.port.trim());
      if (port > 65_535) throw new UsageError('invalid --port: use a number from 0 to 65535');
      const netlog = await ctx.netlog();
      const tenant = await ctx.tenant();
      const viewer = await startViewerServer({ netlog, tenant, port }).catch((e: unknown) => {
        const code = e instanceof Error && 'code' in e ? String(e.code) : 'unknown error';
        throw new RuntimeError(`log ui cannot listen on 127.0.0.1:${port}: ${code}`);
      });
      out(`standin log viewer (tenant ${tenant}): open ${viewer.url}`);
      out('the link works once; press Ctrl-C to stop');
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void viewer.close().then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
