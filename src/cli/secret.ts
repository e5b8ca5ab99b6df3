import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { parseHostPattern } from '../policy/host-pattern.js';
import { findProvider } from '../providers/catalog.js';
import { DEFAULT_ENVIRONMENT, type SchemeSpec, type SecretInfo } from '../model/secrets.js';
import { DEFAULT_KEEP_VERSIONS, MAX_KEEP_VERSIONS, MIN_KEEP_VERSIONS } from '../store/types.js';
import { checkLabel } from '../store/validate.js';
import { formatSchemeSpec, parseSchemeList } from '../swap/scheme-spec.js';
import type { CliContext } from './context.js';
import { isoTime, orDash, out, printJson, printTable } from './output.js';
import { registerSecretReveal } from './secret-reveal.js';
import { registerSecretUsage } from './secret-usage.js';
import { checkValueSource, readSecretValue, type ValueSourceOptions } from './value-source.js';

interface CreateOptions extends ValueSourceOptions {
  json?: boolean;
  environment?: string;
  hosts?: string;
  scheme: string[];
  provider?: string;
  keep?: string;
}

/** `standin secret ...`: values go in once and never come back out, on any path. */
export function registerSecret(program: Command, ctx: CliContext): void {
  const secret = program.command('secret').description('create and manage secrets (values are write-only)');

  withValueOptions(
    secret
      .command('create <name>')
      .description('create a secret scoped to hosts; the value comes from stdin, an env var or a file')
      .option('--hosts <hosts>', 'comma-separated host patterns the value may be sent to')
      .option('--scheme <scheme>', 'bearer | basic[:USER] | header:NAME[=TEMPLATE] | query:NAME; a comma list or repeated for several', collect, [])
      .option('--provider <id>', 'preset scheme and hosts (see `standin providers`)')
      .option('--keep <n>', `versions kept for rollback when rotating (default ${DEFAULT_KEEP_VERSIONS})`)
      .option('--environment <env>', `the environment this first value is for (default ${DEFAULT_ENVIRONMENT}); add others with rotate`)
      .option('--json', 'print the secret (metadata only) as one JSON document'),
  ).action(async (name: string, o: CreateOptions) => {
    const { scheme, hosts, provider } = secretShape(o);
    const keepVersions = parseKeep(o.keep);
    const environment = checkLabel('environment', o.environment, DEFAULT_ENVIRONMENT);
    checkValueSource(o);
    const store = await ctx.store();
    if (await store.getSecret(name) !== undefined) throw new UsageError(`secret '${name}' already exists`);
    const value = await readSecretValue(o);
    const info = await store.createSecret({ name, scheme, hosts, provider, value, actor: ctx.actor(), keepVersions, environment });
    if (o.json === true) return printJson(secretJson(info));
    const env = environment === DEFAULT_ENVIRONMENT ? '' : `, environment ${environment}`;
    out(`created secret ${info.name} (version 1${env}, scheme ${formatSchemeSpec(info.scheme)}, hosts ${info.hosts.join(',')})`);
  });

  secret
    .command('list')
    .description('list secrets (never their values)')
    .option('--json', 'one JSON document')
    .action(async (o: { json?: boolean }) => {
      const secrets = await (await ctx.store()).listSecrets();
      if (o.json === true) return printJson(secrets.map(secretJson));
      if (secrets.length === 0) return out('no secrets');
      printTable(
        [
          { header: 'NAME', value: (s: SecretInfo) => s.name },
          { header: 'SCHEME', value: (s) => formatSchemeSpec(s.scheme) },
          { header: 'HOSTS', value: (s) => s.hosts.join(',') },
          { header: 'PROVIDER', value: (s) => orDash(s.provider) },
          { header: 'VERSIONS', value: (s) => s.environments.map((e) => `${e.name}:v${e.currentVersion}`).join(',') },
          { header: 'UPDATED', value: (s) => isoTime(s.updatedAt) },
        ],
        secrets,
      );
    });

  secret
    .command('show <name>')
    .description('show a secret\'s metadata and versions (never its value)')
    .option('--json', 'one JSON document')
    .action(async (name: string, o: { json?: boolean }) => {
      const s = await (await ctx.store()).getSecret(name);
      if (s === undefined) throw new UsageError(`no secret named '${name}'`);
      if (o.json === true) return printJson(secretJson(s));
      out(
        [
          `name:      ${s.name}`,
          `id:        ${s.id}`,
          `scheme:    ${formatSchemeSpec(s.scheme)}`,
          `hosts:     ${s.hosts.join(', ')}`,
          `provider:  ${orDash(s.provider)}`,
          `tenant:    ${s.tenant}`,
          `versions:  ${s.environments.map((e) => `${e.name} v${e.currentVersion} (kept ${e.versions.join(', ')})`).join('; ')}`,
          `retention: keeps the newest ${s.keepVersions ?? DEFAULT_KEEP_VERSIONS} versions per environment`,
          `created:   ${isoTime(s.createdAt)}`,
          `updated:   ${isoTime(s.updatedAt)}`,
        ].join('\n'),
      );
    });

  withValueOptions(
    secret
      .command('rotate <name>')
      .description('add a new version and make it current (in one environment: its first value there, or the next); versions beyond the retention are deleted')
      .option('--keep <n>', 'change how many versions this secret keeps (2-1000)')
      .option('--environment <env>', `the environment the new value is for (default ${DEFAULT_ENVIRONMENT})`)
      .option('--json', 'print the secret (metadata only) as one JSON document'),
  ).action(async (name: string, o: ValueSourceOptions & { keep?: string; environment?: string; json?: boolean }) => {
    const keepVersions = parseKeep(o.keep);
    const environment = checkLabel('environment', o.environment, DEFAULT_ENVIRONMENT);
    checkValueSource(o);
    const store = await ctx.store();
    if (await store.getSecret(name) === undefined) throw new UsageError(`no secret named '${name}'`);
    const version = await store.rotateSecret(name, await readSecretValue(o), ctx.actor(), { keepVersions, environment });
    const after = await store.getSecret(name);
    if (o.json === true && after !== undefined) return printJson(secretJson(after));
    const kept = after?.environments.find((e) => e.name === environment)?.versions ?? [];
    const env = environment === DEFAULT_ENVIRONMENT ? '' : ` in environment ${environment}`;
    out(`rotated secret ${name} to version ${version}${env} (kept: ${kept.join(', ')})`);
  });

  secret
    .command('rollback <name>')
    .description('make the previous version current again (in one environment)')
    .option('--environment <env>', `the environment to roll back (default ${DEFAULT_ENVIRONMENT})`)
    .option('--json', 'print the secret (metadata only) as one JSON document')
    .action(async (name: string, o: { environment?: string; json?: boolean }) => {
      const environment = checkLabel('environment', o.environment, DEFAULT_ENVIRONMENT);
      const store = await ctx.store();
      const version = await store.rollbackSecret(name, ctx.actor(), environment);
      const after = await store.getSecret(name);
      if (o.json === true && after !== undefined) return printJson(secretJson(after));
      const env = environment === DEFAULT_ENVIRONMENT ? '' : ` in environment ${environment}`;
      out(`rolled back secret ${name} to version ${version}${env}`);
    });

  secret
    .command('delete <name>')
    .description('delete a secret, its versions and every binding that uses it')
    .option('--json', 'print { name, deleted } as one JSON document')
    .action(async (name: string, o: { json?: boolean }) => {
      const store = await ctx.store();
      const canonical = (await store.getSecret(name))?.name ?? name;
      await store.deleteSecret(name, ctx.actor());
      if (o.json === true) return printJson({ name: canonical, deleted: true });
      out(`deleted secret ${canonical}`);
    });

  registerSecretUsage(secret, ctx);
  registerSecretReveal(secret, ctx);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseKeep(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d{1,4}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isInteger(n) || n < MIN_KEEP_VERSIONS || n > MAX_KEEP_VERSIONS) {
    throw new UsageError(`--keep must be an integer from ${MIN_KEEP_VERSIONS} to ${MAX_KEEP_VERSIONS}`);
  }
  return n;
}

function withValueOptions(cmd: Command): Command {
  return cmd
    .option('--value-stdin', 'read the value from stdin (one trailing newline is dropped)')
    .option('--value-env <var>', 'read the value from an environment variable')
    .option('--value-file <file>', 'read the value from a file (one trailing newline is dropped)');
}

/** Scheme, hosts and provider from the flags, a provider's preset filling what is not given. */
function secretShape(o: CreateOptions): { scheme: SchemeSpec; hosts: string[]; provider: string | null } {
  const preset = o.provider === undefined ? undefined : findProvider(o.provider);
  if (o.provider !== undefined && preset === undefined) {
    throw new UsageError(`unknown provider '${o.provider}': see \`standin providers\``);
  }
  const scheme = o.scheme.length > 0 ? parseSchemeList(o.scheme) : (preset?.scheme ?? { kind: 'bearer' });
  let hosts: string[];
  if (o.hosts !== undefined) hosts = parseHostList(o.hosts);
  else if (preset !== undefined) hosts = [...preset.hosts];
  else throw new UsageError('--hosts is required (or --provider, whose preset has hosts)');
  return { scheme, hosts, provider: preset?.id ?? null };
}

export function parseHostList(raw: string): string[] {
  const hosts = raw.split(',').map((h) => h.trim()).filter((h) => h !== '');
  if (hosts.length === 0) throw new UsageError('--hosts needs at least one host pattern');
  for (const h of hosts) parseHostPattern(h);
  return hosts;
}

// The JSON shape of a secret: metadata only, the scheme in the same spelling as the flag.
function secretJson(s: SecretInfo): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    scheme: formatSchemeSpec(s.scheme),
    hosts: s.hosts,
    provider: s.provider,
    tenant: s.tenant,
    currentVersion: s.currentVersion,
    versions: s.versions,
    environments: s.environments,
    keepVersions: s.keepVersions ?? DEFAULT_KEEP_VERSIONS,
    createdAt: isoTime(s.createdAt),
    updatedAt: isoTime(s.updatedAt),
  };
}
