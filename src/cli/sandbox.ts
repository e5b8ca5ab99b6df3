import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { parseHostPattern } from '../policy/host-pattern.js';
import { tokenPrefixFor as tokenPrefixOf } from '../providers/catalog.js';
import { DEFAULT_ENVIRONMENT, type SandboxInfo } from '../model/secrets.js';
import type { AsyncStore } from '../store/store-api.js';
import { checkLabel } from '../store/validate.js';
import type { CliContext } from './context.js';
import { isoTime, out, printJson, printTable } from './output.js';
import { checkProxyAddress, formatEnv, parseEnvFormat } from '../sandbox-env/env.js';
import { loadSandboxEnv } from './load-sandbox-env.js';
import { registerSandboxCheck } from './sandbox-check.js';

/** `standin sandbox ...`: identities that connect through the gateway, and their bindings. */
export function registerSandbox(program: Command, ctx: CliContext): void {
  const sandbox = program.command('sandbox').description('create sandboxes and bind secrets to their env vars');

  sandbox
    .command('create <name>')
    .description('create a sandbox and print its environment')
    .option('--bind <ENV=SECRET>', 'bind a secret to an env var (repeatable)', collect, [])
    .option('--allow-host <pattern>', 'egress policy: a host the sandbox may reach (repeatable; none = any public host)', collect, [])
    .option('--environment <env>', 'the environment whose values of its secrets the sandbox gets (default default); fixed for its life')
    .option('--proxy <host:port>', 'gateway address to put in the environment')
    .option('--json', 'one JSON document: { name, env }')
    .action(async (name: string, o: { bind: string[]; allowHost: string[]; environment?: string; proxy?: string; json?: boolean }) => {
      const wanted = o.bind.map(parseBinding);
      for (const h of o.allowHost) parseHostPattern(h);
      if (o.proxy !== undefined) checkProxyAddress(o.proxy);
      const environment = checkLabel('environment', o.environment, DEFAULT_ENVIRONMENT);
      const store = await ctx.store();
      const bindings = [];
      for (const b of wanted) bindings.push({ ...b, tokenPrefix: await tokenPrefixFor(store, b.secretName) });
      const { sandbox: info } = await store.createSandbox({ name, allowHosts: o.allowHost, bindings, actor: ctx.actor(), environment });
      const env = await loadSandboxEnv(ctx, info.name, o.proxy);
      if (o.json === true) return printJson({ name: info.name, env });
      process.stdout.write(formatEnv(env, 'shell'));
    });

  sandbox
    .command('bind <name> <binding>')
    .description('bind a secret to an env var (ENV=SECRET); a new token replaces any previous one')
    .option('--json', 'print { sandbox, env, secret, token } as one JSON document')
    .action(async (name: string, raw: string, o: { json?: boolean }) => {
      const { env, secretName } = parseBinding(raw);
      const store = await ctx.store();
      const b = await store.bind(name, env, secretName, ctx.actor(), await tokenPrefixFor(store, secretName));
      if (o.json === true) return printJson({ sandbox: (await store.getSandbox(name))?.name ?? name, env: b.env, secret: b.secretName, token: b.token });
      out(`bound ${b.env} to secret ${b.secretName} in sandbox ${name}: ${b.env}=${b.token}`);
    });

  sandbox
    .command('unbind <name> <env>')
    .description('remove a binding; its token stops working at once')
    .option('--json', 'print { sandbox, env, unbound } as one JSON document')
    .action(async (name: string, env: string, o: { json?: boolean }) => {
      await (await ctx.store()).unbind(name, env, ctx.actor());
      if (o.json === true) return printJson({ sandbox: name, env, unbound: true });
      out(`unbound ${env} from sandbox ${name}`);
    });

  sandbox
    .command('list')
    .description('list sandboxes and their bindings')
    .option('--json', 'one JSON document')
    .action(async (o: { json?: boolean }) => {
      const store = await ctx.store();
      const rows = await Promise.all((await store.listSandboxes()).map(async (s) => ({ sandbox: s, bindings: await store.listBindings(s.name) })));
      if (o.json === true) {
        return printJson(
          rows.map(({ sandbox: s, bindings }) => ({
            name: s.name,
            tenant: s.tenant,
            environment: s.environment,
            allowHosts: s.allowHosts,
            bindings: bindings.map((b) => ({ env: b.env, secret: b.secretName })),
            createdAt: isoTime(s.createdAt),
          })),
        );
      }
      if (rows.length === 0) return out('no sandboxes');
      type Row = { sandbox: SandboxInfo; bindings: { env: string; secretName: string }[] };
      printTable(
        [
          { header: 'NAME', value: (r: Row) => r.sandbox.name },
          { header: 'ENVIRONMENT', value: (r) => r.sandbox.environment },
          { header: 'BINDINGS', value: (r) => r.bindings.map((b) => `${b.env}=${b.secretName}`).join(',') || '-' },
          { header: 'ALLOW HOSTS', value: (r) => r.sandbox.allowHosts.join(',') || '(any public host)' },
          { header: 'CREATED', value: (r) => isoTime(r.sandbox.createdAt) },
        ],
        rows,
      );
    });

  sandbox
    .command('delete <name>')
    .description('delete a sandbox; its proxy credential and tokens stop working at once')
    .option('--json', 'print { name, deleted } as one JSON document')
    .action(async (name: string, o: { json?: boolean }) => {
      const store = await ctx.store();
      const canonical = (await store.getSandbox(name))?.name ?? name;
      await store.deleteSandbox(name, ctx.actor());
      if (o.json === true) return printJson({ name: canonical, deleted: true });
      out(`deleted sandbox ${canonical}`);
    });

  sandbox
    .command('env <name>')
    .description('print the environment a sandbox runs with')
    .option('--format <format>', 'shell | dotenv | json', 'shell')
    .option('--proxy <host:port>', 'gateway address (default: the running gateway, else 127.0.0.1:8877)')
    .action(async (name: string, o: { format: string; proxy?: string }) => {
      const format = parseEnvFormat(o.format);
      process.stdout.write(formatEnv(await loadSandboxEnv(ctx, name, o.proxy), format));
    });

  registerSandboxCheck(sandbox, ctx);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function parseBinding(raw: string): { env: string; secretName: string } {
  const eq = raw.indexOf('=');
  const env = eq < 0 ? '' : raw.slice(0, eq).trim();
  const secretName = eq < 0 ? '' : raw.slice(eq + 1).trim();
  if (env === '' || secretName === '') throw new UsageError(`invalid binding '${raw}': expected ENV=SECRET`);
  return { env, secretName };
}

// A secret made from a provider preset gets tokens shaped like that provider's keys, so client
// libraries that check the format (an `sk-ant-` prefix, say) accept the stand-in.
async function tokenPrefixFor(store: AsyncStore, secretName: string): Promise<string | undefined> {
  const secret = await store.getSecret(secretName);
  if (secret === undefined) throw new UsageError(`no secret named '${secretName}'`);
  const prefix = tokenPrefixOf(secret.provider);
  return prefix === '' ? undefined : prefix;
}
