import { UsageError } from '../errors.js';
import { resolveProxyAddress, sandboxEnv } from '../sandbox-env/env.js';
import type { CliContext } from './context.js';
import { ensureCaBundle, ensureNodePreload } from './init.js';

/** Reads what `sandboxEnv` needs from the home and store; refreshes the CA bundle and the Node preload if needed. */
export async function loadSandboxEnv(ctx: CliContext, sandbox: string, proxyFlag?: string, caFile?: string): Promise<Record<string, string>> {
  const proxy = resolveProxyAddress(ctx.paths(), proxyFlag);
  const store = await ctx.store();
  const info = await store.getSandbox(sandbox);
  if (info === undefined) throw new UsageError(`no sandbox named '${sandbox}'`);
  const paths = ctx.paths();
  await ensureCaBundle(paths, ctx.caPem());
  ensureNodePreload(paths);
  return sandboxEnv({
    sandbox: info.name,
    proxyKey: await store.proxyKey(info.name),
    bindings: await store.listBindings(info.name),
    proxy,
    // A copy of the bundle elsewhere (`run --isolate`) has the preload's copy beside it.
    caBundle: caFile ?? paths.caBundle,
  });
}
