import type { Definitions } from './definitions.js';
import { DEFAULT_ENVIRONMENT, type SchemeSpec } from '../model/secrets.js';
import type { AsyncStore } from './store-api.js';
import { checkLabel } from './validate.js';

/**
 * Applies imported definitions to a store, creating only what is missing and never changing or
 * deleting what exists. Secrets are never created (their values are not in the document): a
 * secret that does not exist is reported, and bindings to it are skipped. The caller runs this in
 * one transaction so that an import applies whole or not at all.
 */
export type ImportItem =
  | { kind: 'secret-present'; name: string }
  | { kind: 'secret-missing'; name: string; scheme: string; hosts: string[]; provider: string | null }
  | { kind: 'secret-differs'; name: string; field: 'scheme' | 'hosts' | 'provider'; existing: string; imported: string }
  | { kind: 'sandbox-created'; name: string; bindings: string[] }
  | { kind: 'sandbox-present'; name: string }
  | { kind: 'sandbox-allow-hosts-differ'; name: string; existing: string[]; imported: string[] }
  | { kind: 'binding-added'; sandbox: string; env: string; secret: string }
  | { kind: 'binding-skipped'; sandbox: string; env: string; secret: string; why: 'secret missing' | 'bound to another secret' | 'no value in the sandbox\'s environment' };

export interface ImportHooks {
  formatScheme(spec: SchemeSpec): string;
  /** Normalises a scheme's text form, so that `Bearer` and `bearer` compare equal. */
  normalizeScheme(text: string): string;
  tokenPrefixFor(providerId: string | null): string;
}

/** Items that leave the store short of the document: the import is incomplete when any exist. */
export function isShortfall(item: ImportItem): boolean {
  return item.kind === 'secret-missing' || item.kind === 'binding-skipped' || item.kind === 'secret-differs' || item.kind === 'sandbox-allow-hosts-differ';
}

export async function importDefinitions(store: AsyncStore, defs: Definitions, actor: string, hooks: ImportHooks): Promise<ImportItem[]> {
  const items: ImportItem[] = [];
  for (const s of defs.secrets) {
    const existing = await store.getSecret(s.name);
    if (existing === undefined) {
      items.push({ kind: 'secret-missing', name: s.name, scheme: hooks.normalizeScheme(s.scheme), hosts: s.hosts, provider: s.provider ?? null });
      continue;
    }
    items.push({ kind: 'secret-present', name: existing.name });
    const compare = (field: 'scheme' | 'hosts' | 'provider', a: string, b: string): void => {
      if (a !== b) items.push({ kind: 'secret-differs', name: existing.name, field, existing: a, imported: b });
    };
    compare('scheme', hooks.formatScheme(existing.scheme), hooks.normalizeScheme(s.scheme));
    compare('hosts', existing.hosts.join(','), s.hosts.map((h) => h.trim().toLowerCase()).join(','));
    compare('provider', existing.provider ?? '-', s.provider ?? '-');
  }

  for (const x of defs.sandboxes) {
    const wanted = Object.entries(x.bindings ?? {});
    const allowHosts = x.allowHosts ?? [];
    const environment = (await store.getSandbox(x.name))?.environment ?? checkLabel('environment', x.environment, DEFAULT_ENVIRONMENT);
    const usable = async (env: string, secret: string, sandbox: string): Promise<boolean> => {
      const found = await store.getSecret(secret);
      if (found === undefined) {
        items.push({ kind: 'binding-skipped', sandbox, env, secret, why: 'secret missing' });
        return false;
      }
      if (!found.environments.some((e) => e.name === environment)) {
        items.push({ kind: 'binding-skipped', sandbox, env, secret, why: 'no value in the sandbox\'s environment' });
        return false;
      }
      return true;
    };
    const present = await store.getSandbox(x.name);
    if (present === undefined) {
      const bindings: { env: string; secretName: string; tokenPrefix: string | undefined }[] = [];
      for (const [env, secretName] of wanted) {
        if (await usable(env, secretName, x.name)) bindings.push({ env, secretName, tokenPrefix: await prefix(store, secretName, hooks) });
      }
      const { sandbox } = await store.createSandbox({
        name: x.name,
        allowHosts,
        bindings,
        actor,
        ...(x.environment !== undefined ? { environment: x.environment } : {}),
      });
      items.push({ kind: 'sandbox-created', name: sandbox.name, bindings: bindings.map((b) => b.env) });
      continue;
    }
    items.push({ kind: 'sandbox-present', name: present.name });
    const norm = (hosts: string[]): string[] => hosts.map((h) => h.trim().toLowerCase());
    if (norm(present.allowHosts).join(',') !== norm(allowHosts).join(',')) {
      items.push({ kind: 'sandbox-allow-hosts-differ', name: present.name, existing: present.allowHosts, imported: allowHosts });
    }
    const bound = new Map((await store.listBindings(present.name)).map((b) => [b.env, b.secretName.toLowerCase()]));
    for (const [env, secret] of wanted) {
      const current = bound.get(env);
      if (current === secret.trim().toLowerCase()) continue;
      if (current !== undefined) {
        items.push({ kind: 'binding-skipped', sandbox: present.name, env, secret, why: 'bound to another secret' });
        continue;
      }
      if (!(await usable(env, secret, present.name))) continue;
      const b = await store.bind(present.name, env, secret, actor, await prefix(store, secret, hooks));
      items.push({ kind: 'binding-added', sandbox: present.name, env: b.env, secret: b.secretName });
    }
  }
  return items;
}

async function prefix(store: AsyncStore, secretName: string, hooks: ImportHooks): Promise<string | undefined> {
  const p = hooks.tokenPrefixFor((await store.getSecret(secretName))?.provider ?? null);
  return p === '' ? undefined : p;
}
