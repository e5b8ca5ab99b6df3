import type { Command } from 'commander';
import { listProviders, type Provider } from '../providers/catalog.js';
import { formatSchemeSpec } from '../swap/scheme-spec.js';
import { printJson, printTable } from './output.js';

/**
 * `standin providers`: the presets `secret create --provider` accepts. Needs no home, so it works
 * before `init` (it is often the first thing a new user asks for).
 */
export function registerProviders(program: Command): void {
  program
    .command('providers')
    .description('list provider presets (scheme, hosts, env var, token prefix)')
    .option('--json', 'one JSON document')
    .action((o: { json?: boolean }) => {
      const providers = listProviders();
      if (o.json === true) {
        printJson(providers.map((p) => ({ ...p, scheme: formatSchemeSpec(p.scheme) })));
        return;
      }
      printTable(
        [
          { header: 'ID', value: (p: Provider) => p.id },
          { header: 'NAME', value: (p) => p.name },
          { header: 'SCHEME', value: (p) => formatSchemeSpec(p.scheme) },
          { header: 'HOSTS', value: (p) => p.hosts.join(',') },
          { header: 'ENV', value: (p) => p.env },
          { header: 'TOKEN PREFIX', value: (p) => p.tokenPrefix || '-' },
        ],
        providers,
      );
    });
}
