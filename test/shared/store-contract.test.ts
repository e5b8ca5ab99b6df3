import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { SecretValue } from '../../src/secret-value.js';
import type { AsyncStore } from '../../src/store/store-api.js';
import { backends } from '../helpers/backends.js';

// The storage contract, run against both backends: whatever the CLI and the control API rely on
// behaves the same on SQLite (one machine) and PostgreSQL (a fleet).
const PLANTED = 'sk-planted-contract-0123456789abcdef';
const bearer = { kind: 'bearer' };

describe.each(backends())('store contract on $name', (backend) => {
  beforeAll(() => backend.setup(), 60_000);
  afterAll(() => backend.teardown());

  const fresh = async (): Promise<AsyncStore> => (await backend.fresh()).store;
  const secret = (store: AsyncStore, name: string, value = PLANTED, extra: Partial<Parameters<AsyncStore['createSecret']>[0]> = {}) =>
    store.createSecret({ name, scheme: bearer, hosts: ['api.example.com'], value: new SecretValue(value), actor: 'test', ...extra });

  it('creates, finds by any case, lists in order, never returns the value', async () => {
    const store = await fresh();
    const info = await secret(store, 'OpenAI-Prod');
    expect(info).toMatchObject({ name: 'OpenAI-Prod', tenant: 'default', currentVersion: 1, versions: [1], hosts: ['api.example.com'], keepVersions: 5 });
    expect((await store.getSecret('openai-prod'))?.id).toBe(info.id);
    await secret(store, 'b-second');
    await secret(store, 'A-first');
    expect((await store.listSecrets()).map((s) => s.name)).toEqual(['A-first', 'b-second', 'OpenAI-Prod']);
    await expect(secret(store, 'OPENAI-PROD')).rejects.toThrow(/already exists/);
    expect(JSON.stringify(await store.listSecrets())).not.toContain(PLANTED);
    expect((await store.secretValue(info.id, 1)).expose()).toBe(PLANTED);
    await expect(store.getSecret('nope')).resolves.toBeUndefined();
  });

  it('validates input with UsageErrors that never echo the value', async () => {
    const store = await fresh();
    const e = await secret(store, 'bad name!').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    await expect(secret(store, 'ok', '')).rejects.toThrow(UsageError);
    const bad = await secret(store, 'ok', `${PLANTED}\r\nX: y`).catch((x: unknown) => x);
    expect(bad).toBeInstanceOf(UsageError);
    expect(String(bad)).not.toContain(PLANTED);
  });

  it('rotates with retention, rolls back, and never reuses a version number', async () => {
    const store = await fresh();
    const s = await secret(store, 'svc', 'v1-value', { keepVersions: 2 });
    expect(await store.rotateSecret('SVC', new SecretValue('v2-value'), 'test')).toBe(2);
    expect(await store.rotateSecret('svc', new SecretValue('v3-value'), 'test')).toBe(3);
    expect((await store.getSecret('svc'))?.versions).toEqual([2, 3]);
    expect(await store.rollbackSecret('svc', 'test')).toBe(2);
    await expect(store.rollbackSecret('svc', 'test')).rejects.toThrow(/no version before v2/);
    expect(await store.rotateSecret('svc', new SecretValue('v4-value'), 'test')).toBe(4);
    expect((await store.secretValue(s.id, 4)).expose()).toBe('v4-value');
    // Another environment: its own current version, the same sequence.
    expect(await store.rotateSecret('svc', new SecretValue('staging-value'), 'test', { environment: 'staging' })).toBe(5);
    const after = await store.getSecret('svc');
    expect(after?.environments.map((e) => [e.name, e.currentVersion])).toEqual([
      ['default', 4],
      ['staging', 5],
    ]);
    const rotations = (await store.listAudit({ action: 'secret.rotate' })).map((e) => e.detail);
    expect(rotations[1]).toMatchObject({ from: 2, to: 3, keep: 2, pruned: [1] });
  });

  it('compare-and-set rotation writes only while the version is still current', async () => {
    const store = await fresh();
    const s = await secret(store, 'oauth', 'refresh-1');
    const [a, b] = await Promise.all([
      store.rotateSecretIfCurrent(s.id, 'default', 1, new SecretValue('refresh-2a'), 'gateway', 'r'),
      store.rotateSecretIfCurrent(s.id, 'default', 1, new SecretValue('refresh-2b'), 'gateway', 'r'),
    ]);
    expect([a, b].filter((v) => v !== undefined)).toEqual([2]);
    expect(await store.rotateSecretIfCurrent(s.id, 'default', 1, new SecretValue('late'), 'gateway', 'r')).toBeUndefined();
    expect((await store.getSecret('oauth'))?.versions).toEqual([1, 2]);
    expect((await store.listAudit({ action: 'secret.rotate' }))[0]?.detail).toMatchObject({ reason: 'r', from: 1, to: 2 });
  });

  it('creates sandboxes with bindings and distinct tokens; rebind, unbind and recent unbinds', async () => {
    const store = await fresh();
    await secret(store, 'one');
    await secret(store, 'two');
    const { sandbox, proxyKey, bindings } = await store.createSandbox({ name: 'Agent', allowHosts: ['API.example.com'], bindings: [{ env: 'ONE', secretName: 'one' }], actor: 'test' });
    expect(sandbox).toMatchObject({ name: 'Agent', allowHosts: ['api.example.com'], environment: 'default' });
    expect(proxyKey).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(await store.proxyKey('agent')).toBe(proxyKey);
    const first = bindings[0]?.token ?? '';
    const rebound = await store.bind('agent', 'ONE', 'two', 'test');
    expect(rebound.token).not.toBe(first);
    await store.bind('agent', 'TWO', 'two', 'test', 'sk-');
    const listed = await store.listBindings('AGENT');
    expect(listed.map((b) => [b.env, b.secretName])).toEqual([
      ['ONE', 'two'],
      ['TWO', 'two'],
    ]);
    expect(listed[1]?.token.startsWith('sk-')).toBe(true);
    await store.unbind('agent', 'TWO', 'test');
    await expect(store.unbind('agent', 'TWO', 'test')).rejects.toThrow(/no binding/);
    await expect(store.createSandbox({ name: 'agent', allowHosts: [], bindings: [], actor: 'test' })).rejects.toThrow(/already exists/);
    await expect(store.createSandbox({ name: 'x', allowHosts: [], bindings: [{ env: 'A', secretName: 'missing' }], actor: 'test' })).rejects.toThrow(/no secret named/);
    expect(await store.getSandbox('x')).toBeUndefined();
    expect((await store.listAudit({ target: 'AGENT' })).map((e) => e.action)).toEqual(['sandbox.create', 'sandbox.bind', 'sandbox.bind', 'sandbox.unbind']);
  });

  it('deleting a secret removes its bindings; deleting a sandbox removes it', async () => {
    const store = await fresh();
    await secret(store, 'doomed');
    await store.createSandbox({ name: 'sb', allowHosts: [], bindings: [{ env: 'D', secretName: 'doomed' }], actor: 'test' });
    await store.deleteSecret('DOOMED', 'test');
    expect(await store.listBindings('sb')).toEqual([]);
    expect((await store.listAudit({ action: 'secret.delete' }))[0]?.detail).toMatchObject({ versions: [1], bindingsRemoved: ['sb:D'] });
    await store.deleteSandbox('SB', 'test');
    expect(await store.listSandboxes()).toEqual([]);
    await expect(store.deleteSandbox('sb', 'test')).rejects.toThrow(/no sandbox named/);
  });

  it('keeps tenants apart', async () => {
    const store = await fresh();
    await store.createTenant('Team-A', 'test');
    await expect(store.createTenant('team-a', 'test')).rejects.toThrow(/already exists/);
    expect((await store.listTenants()).map((t) => t.name)).toEqual(['default', 'team-a']);
    const a = await store.forTenant('team-a');
    await secret(a, 'shared-name', 'team-a-value');
    await secret(store, 'shared-name', 'default-value');
    expect((await a.listSecrets()).map((s) => s.tenant)).toEqual(['team-a']);
    await a.createSandbox({ name: 'sb', allowHosts: [], bindings: [{ env: 'K', secretName: 'shared-name' }], actor: 'test' });
    expect(await store.getSandbox('sb')).toBeUndefined();
    await expect(store.forTenant('nobody')).rejects.toThrow(/no tenant named/);
    expect((await a.listAudit({})).every((e) => e.tenant === 'team-a')).toBe(true);
    expect((await store.listAudit({ allTenants: true })).some((e) => e.tenant === 'team-a')).toBe(true);
  });

  it('filters the audit trail like the CLI asks', async () => {
    const store = await fresh();
    await secret(store, 'a1');
    await secret(store, 'a2');
    await store.rotateSecret('a1', new SecretValue('x2'), 'cli:alice');
    await store.audit('cli:bob', 'secret.reveal', 'a2', { version: 1 });
    expect((await store.listAudit({ action: 'secret.*' })).length).toBe(4);
    expect((await store.listAudit({ actor: 'cli:alice' })).map((e) => e.action)).toEqual(['secret.rotate']);
    expect((await store.listAudit({ limit: 2 })).map((e) => e.action)).toEqual(['secret.rotate', 'secret.reveal']);
    expect(await store.listAudit({ since: Date.now() + 60_000 })).toEqual([]);
    await expect(store.listAudit({ limit: -1 })).rejects.toThrow(UsageError);
    expect(JSON.stringify(await store.listAudit({}))).not.toContain(PLANTED);
  });

  it('API keys: shown once, verified by hash, names case-insensitive, revoked at once', async () => {
    const store = await fresh();
    const { info, key } = await store.apiKeys.create('Ops', 'operator');
    expect(key).toMatch(/^sak_[0-9a-f]{16}_[0-9A-Za-z]{40}$/);
    expect((await store.apiKeys.verify(key))?.id).toBe(info.id);
    // A key with its last character changed (to one it is not: keys end in any of 62 characters).
    const altered = `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`;
    expect(await store.apiKeys.verify(altered)).toBeUndefined();
    await expect(store.apiKeys.create('ops', 'admin')).rejects.toThrow(/already exists/);
    const glass = await store.apiKeys.create('glass', 'auditor', { canReveal: true });
    expect(glass.info.canReveal).toBe(true);
    expect((await store.apiKeys.list()).map((k) => [k.name, k.canReveal])).toEqual([
      ['Ops', false],
      ['glass', true],
    ]);
    await store.apiKeys.revoke('OPS');
    expect(await store.apiKeys.verify(key)).toBeUndefined();
    await expect(store.apiKeys.revoke('ops')).rejects.toThrow(/no API key/);
  });

  it('a transaction applies whole or not at all', async () => {
    const store = await fresh();
    await secret(store, 'tx');
    await expect(
      store.transaction(async (t) => {
        await t.createSandbox({ name: 'inside', allowHosts: [], bindings: [{ env: 'T', secretName: 'tx' }], actor: 'test' });
        await t.bind('inside', 'U', 'missing', 'test').catch(() => undefined); // a failed step inside does not poison the rest
        await t.bind('inside', 'V', 'tx', 'test');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.getSandbox('inside')).toBeUndefined();
    await store.transaction(async (t) => {
      await t.createSandbox({ name: 'kept', allowHosts: [], bindings: [], actor: 'test' });
      await t.bind('kept', 'V', 'tx', 'test');
    });
    expect((await store.listBindings('kept')).map((b) => b.env)).toEqual(['V']);
  });

  it('re-encrypts every value under a new key in one go', async () => {
    const { store, key } = await backend.fresh();
    const s = await secret(store, 'rk', 'rekeyed-value');
    await store.createSandbox({ name: 'rk-sb', allowHosts: [], bindings: [], actor: 'test' });
    const next = Buffer.alloc(32, 7);
    expect(await store.keyInUse(key, next)).toBe('old');
    const r = await store.rekey(key, next, 'test');
    expect(r).toMatchObject({ secretVersions: 1, sandboxes: 1 });
    expect(await store.keyInUse(key, next)).toBe('new');
    await expect(store.rekey(key, Buffer.alloc(32, 9), 'test')).rejects.toThrow(/does not decrypt/);
    // This process's key is stale now: it says so instead of writing under a key nobody has.
    await expect(store.secretValue(s.id, 1)).rejects.toThrow();
    const reopened = await backend.fresh();
    expect(await reopened.store.keyInUse(reopened.key, next)).toBe('empty');
  });
});
