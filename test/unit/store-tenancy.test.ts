import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { openDatabase, type Db } from '../../src/store/database.js';
import { MIGRATIONS } from '../../src/store/schema.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/types.js';

// Tenants and environments in the store (issue #5): nothing crosses tenants, whatever the names;
// a sandbox gets its environment's value and nothing else.
const KEY = randomBytes(32);
let dir: string;
let db: Db;
let store: SqliteStore;
let acme: Store;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-tenancy-'));
  db = openDatabase(path.join(dir, 'standin.db'));
  store = new SqliteStore(db, KEY);
  store.createTenant('acme', 'test');
  acme = store.forTenant('ACME');
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const create = (s: Store, name: string, value: string, environment?: string): void => {
  s.createSecret({ name, scheme: { kind: 'bearer' }, hosts: ['api.example.com'], value: new SecretValue(value), actor: 'test', ...(environment ? { environment } : {}) });
};

describe('tenants', () => {
  it('keep names apart: the same secret and sandbox names in two tenants are two things', () => {
    create(store, 'openai', 'default-value');
    create(acme, 'openai', 'acme-value');
    const a = store.createSandbox({ name: 'agent', allowHosts: [], bindings: [{ env: 'K', secretName: 'openai' }], actor: 'test' });
    const b = acme.createSandbox({ name: 'agent', allowHosts: [], bindings: [{ env: 'K', secretName: 'openai' }], actor: 'test' });
    expect(acme.tenant).toBe('acme');
    expect(store.listSecrets().map((s) => [s.tenant, s.name])).toEqual([['default', 'openai']]);
    expect(acme.listSecrets().map((s) => [s.tenant, s.name])).toEqual([['acme', 'openai']]);
    const ra = store.resolveToken(a.bindings[0]!.token)!;
    const rb = store.resolveToken(b.bindings[0]!.token)!;
    expect(store.secretValue(ra.secret.id, ra.version!).expose()).toBe('default-value');
    expect(store.secretValue(rb.secret.id, rb.version!).expose()).toBe('acme-value');
    // Each proxy key authenticates its own sandbox only, though both are called `agent`.
    expect(store.authenticateSandbox('agent', a.proxyKey)?.tenant).toBe('default');
    expect(store.authenticateSandbox('AGENT', b.proxyKey)?.tenant).toBe('acme');
    expect(store.authenticateSandbox('other', b.proxyKey)).toBeUndefined();
    expect(store.authenticateSandbox('agent', `${b.proxyKey}x`)).toBeUndefined();
    expect(store.authenticateSandbox('agent', '')).toBeUndefined();
    // Kelvin sign: lower-cases to `k`, but names are ASCII, so it is not `k`.
    const k = store.createSandbox({ name: 'k', allowHosts: [], bindings: [], actor: 'test' });
    expect(store.authenticateSandbox('\u212a', k.proxyKey)).toBeUndefined();
    expect(store.authenticateSandbox('K', k.proxyKey)?.name).toBe('k');
  });

  it('never bind, show, rotate or delete across tenants', () => {
    create(store, 'prod-key', 'default-only');
    acme.createSandbox({ name: 'sb', allowHosts: [], bindings: [], actor: 'test' });
    expect(() => acme.bind('sb', 'K', 'prod-key', 'test')).toThrow(/no secret named 'prod-key'/);
    expect(() => acme.createSandbox({ name: 'sb2', allowHosts: [], bindings: [{ env: 'K', secretName: 'prod-key' }], actor: 'test' })).toThrow(/no secret named/);
    expect(acme.getSecret('prod-key')).toBeUndefined();
    expect(() => acme.rotateSecret('prod-key', new SecretValue('x'), 'test')).toThrow(/no secret named/);
    expect(() => acme.deleteSecret('prod-key', 'test')).toThrow(/no secret named/);
    expect(() => acme.proxyKey('nope')).toThrow(/no sandbox named/);
    expect(store.getSandbox('sb')).toBeUndefined();
    expect(acme.listSandboxes().map((s) => s.name)).toEqual(['sb']);
  });

  it('refuse a cross-tenant binding in the database itself, whatever code writes it', () => {
    create(store, 'prod-key', 'default-only');
    const sb = acme.createSandbox({ name: 'sb', allowHosts: [], bindings: [], actor: 'test' }).sandbox;
    const secretId = store.getSecret('prod-key')!.id;
    const insert = db.prepare('INSERT INTO bindings (sandbox_id, env, secret_id, token, created_at) VALUES (?, ?, ?, ?, 0)');
    expect(() => insert.run(sb.id, 'K', secretId, 'standin_crosstenant000000000000000000')).toThrow(/cannot cross tenants/);
    create(acme, 'own', 'acme-own');
    insert.run(sb.id, 'K', acme.getSecret('own')!.id, 'standin_sametenant0000000000000000000');
    expect(() => db.prepare('UPDATE bindings SET secret_id = ? WHERE sandbox_id = ?').run(secretId, sb.id)).toThrow(/cannot cross tenants/);
  });

  it('keep audit rows per tenant; tenants are checked and canonical', () => {
    create(acme, 'x', 'v');
    create(store, 'y', 'v');
    expect(acme.listAudit({}).map((e) => [e.tenant, e.action, e.target])).toEqual([['acme', 'secret.create', 'x']]);
    expect(store.listAudit({}).map((e) => e.action)).toEqual(['tenant.create', 'secret.create']);
    expect(store.listAudit({ allTenants: true })).toHaveLength(3);
    expect(() => store.forTenant('nope')).toThrow(/no tenant named 'nope'/);
    expect(() => store.createTenant('acme', 'test')).toThrow(/already exists/);
    expect(() => store.createTenant('Bad Name', 'test')).toThrow(/invalid tenant name/);
    expect(store.listTenants().map((t) => t.name)).toEqual(['acme', 'default']);
  });
});

describe('environments', () => {
  it('give each sandbox its environment\'s value; binding needs a value there', () => {
    create(store, 'db', 'PROD-VALUE', 'prod');
    expect(store.getSecret('db')).toMatchObject({ currentVersion: null, environments: [{ name: 'prod', currentVersion: 1, versions: [1] }] });
    store.rotateSecret('db', new SecretValue('STAGING-VALUE'), 'test', { environment: 'staging' });
    const prod = store.createSandbox({ name: 'p', environment: 'prod', allowHosts: [], bindings: [{ env: 'DB', secretName: 'db' }], actor: 'test' });
    const stg = store.createSandbox({ name: 's', environment: 'Staging', allowHosts: [], bindings: [{ env: 'DB', secretName: 'db' }], actor: 'test' });
    expect(stg.sandbox.environment).toBe('staging');
    expect(() => store.createSandbox({ name: 'd', environment: 'dev', allowHosts: [], bindings: [{ env: 'DB', secretName: 'db' }], actor: 'test' }))
      .toThrow(/has no value for environment dev/);
    expect(store.getSandbox('d')).toBeUndefined(); // the whole create was rolled back
    store.createSandbox({ name: 'd', allowHosts: [], bindings: [], actor: 'test' });
    expect(() => store.bind('d', 'DB', 'db', 'test')).toThrow(/has no value for environment default/);

    const value = (token: string): string => {
      const r = store.resolveToken(token)!;
      return `${store.secretValue(r.secret.id, r.version!).expose()}@${r.version}`;
    };
    const pt = prod.bindings[0]!.token;
    const st = stg.bindings[0]!.token;
    expect([value(pt), value(st)]).toEqual(['PROD-VALUE@1', 'STAGING-VALUE@2']);
    // Rotating one environment leaves the other alone; numbers never repeat across them.
    expect(store.rotateSecret('db', new SecretValue('PROD-2'), 'test', { environment: 'prod' })).toBe(3);
    expect([value(pt), value(st)]).toEqual(['PROD-2@3', 'STAGING-VALUE@2']);
    expect(() => store.rollbackSecret('db', 'test', 'staging')).toThrow(/no version before v2 in environment staging/);
    expect(store.rollbackSecret('db', 'test', 'prod')).toBe(1);
    expect([value(pt), value(st)]).toEqual(['PROD-VALUE@1', 'STAGING-VALUE@2']);
    expect(() => store.rollbackSecret('db', 'test')).toThrow(/no value for environment default/);
    const audit = store.listAudit({ action: 'secret.r*' }).map((e) => e.detail);
    expect(audit).toEqual([
      { environment: 'staging', from: null, to: 2, keep: 5 },
      { environment: 'prod', from: 1, to: 3, keep: 5 },
      { environment: 'prod', from: 3, to: 1 },
    ]);
  });

  it('prunes per environment: one environment\'s rotations never delete another\'s versions', () => {
    store.createSecret({ name: 'k', scheme: { kind: 'bearer' }, hosts: ['a.test'], value: new SecretValue('d1'), actor: 't', keepVersions: 2 });
    store.rotateSecret('k', new SecretValue('p1'), 't', { environment: 'prod' });
    for (let i = 2; i <= 5; i++) store.rotateSecret('k', new SecretValue(`p${i}`), 't', { environment: 'prod' });
    const s = store.getSecret('k')!;
    expect(s.environments).toEqual([
      { name: 'default', currentVersion: 1, versions: [1] },
      { name: 'prod', currentVersion: 6, versions: [5, 6] },
    ]);
    expect(s.versions).toEqual([1, 5, 6]);
  });
});

describe('migration 4 on a database made before tenants', () => {
  it('keeps every secret, version, sandbox, binding and key working, under tenant default', () => {
    const file = path.join(dir, 'old.db');
    const old = openDatabase(file, MIGRATIONS.filter((m) => m.version <= 3));
    old.exec(`
      INSERT INTO secrets (id, name, scheme, hosts, provider, current_version, created_at, updated_at, keep_versions)
        VALUES ('sec_1', 'OpenAI', '{"kind":"bearer"}', '["api.openai.com"]', 'openai', 2, 1, 2, NULL);
      INSERT INTO secret_versions (secret_id, version, ciphertext, created_at) VALUES ('sec_1', 1, x'01', 1), ('sec_1', 2, x'02', 2);
      INSERT INTO sandboxes (id, name, allow_hosts, proxy_key_hash, proxy_key_enc, created_at) VALUES ('sbx_1', 'agent', '[]', x'aa', x'bb', 1);
      INSERT INTO bindings (sandbox_id, env, secret_id, token, created_at) VALUES ('sbx_1', 'OPENAI_API_KEY', 'sec_1', 'sk-standin-old', 1);
      INSERT INTO audit (at, actor, action, target, detail) VALUES (1, 'cli:x', 'secret.create', 'OpenAI', '{}');
      INSERT INTO network_log (request_id, at, sandbox, method, scheme, host, port, path, status, decision, secrets, bytes_in, bytes_out, duration_ms)
        VALUES ('r1', 1, 'agent', 'GET', 'https', 'api.openai.com', 443, '/', 200, 'swapped', '["OpenAI@2"]', 0, 0, 1),
               ('r2', 2, NULL, 'CONNECT', 'https', 'x.test', 443, '', 407, 'denied', '[]', 0, 0, 1);
      INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES ('key_1', 'ci', 'operator', x'cc', 1);
    `);
    old.close();
    const db2 = openDatabase(file);
    try {
      expect(db2.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db2.pragma('foreign_key_check')).toEqual([]);
      const s2 = new SqliteStore(db2, KEY);
      const secret = s2.getSecret('openai')!;
      expect(secret).toMatchObject({ tenant: 'default', name: 'OpenAI', currentVersion: 2, versions: [1, 2], provider: 'openai' });
      expect(secret.environments).toEqual([{ name: 'default', currentVersion: 2, versions: [1, 2] }]);
      expect(s2.getSandbox('agent')).toMatchObject({ tenant: 'default', environment: 'default' });
      expect(s2.resolveToken('sk-standin-old')).toMatchObject({ sandboxId: 'sbx_1', version: 2, secret: { name: 'OpenAI' } });
      expect(s2.listAudit({}).map((e) => [e.tenant, e.action])).toEqual([['default', 'secret.create']]);
      expect(db2.prepare('SELECT request_id, tenant FROM network_log ORDER BY id').all()).toEqual([
        { request_id: 'r1', tenant: 'default' },
        { request_id: 'r2', tenant: null },
      ]);
      expect(db2.prepare('SELECT tenant, can_reveal FROM api_keys').get()).toEqual({ tenant: 'default', can_reveal: 0 });
      // Cascades still work after the rebuild: deleting the secret takes its versions and bindings.
      s2.deleteSecret('openai', 'test');
      expect(db2.prepare('SELECT COUNT(*) AS n FROM bindings').get()).toEqual({ n: 0 });
      expect(db2.prepare('SELECT COUNT(*) AS n FROM secret_versions').get()).toEqual({ n: 0 });
      expect(db2.prepare('SELECT COUNT(*) AS n FROM secret_current').get()).toEqual({ n: 0 });
    } finally {
      db2.close();
    }
  });
});

describe('lookup cache', () => {
  it('serves repeated lookups from memory, and sees every change at once, from this connection or another', async () => {
    // A request is one synchronous run of the gateway; the next one starts after a microtask turn.
    const nextRequest = (): Promise<void> => new Promise((r) => setImmediate(r));
    create(store, 'svc', 'v1');
    const { sandbox, bindings } = store.createSandbox({ name: 'sb', allowHosts: [], bindings: [{ env: 'K', secretName: 'svc' }], actor: 'test' });
    const token = bindings[0]!.token;
    const first = store.resolveToken(token)!;
    expect(store.resolveToken(token)).toBe(first); // the same (frozen) object: a hit
    expect(Object.isFrozen(first.secret.hosts)).toBe(true);
    expect(store.getSandboxById(sandbox.id)).toBe(store.getSandboxById(sandbox.id));

    // This connection writes: the next lookup sees it.
    store.rotateSecret('svc', new SecretValue('v2'), 'test');
    expect(store.resolveToken(token)?.version).toBe(2);

    // Another connection (the CLI) writes: the next request's lookup sees that too.
    const other = new SqliteStore(openDatabase(path.join(dir, 'standin.db')), KEY);
    try {
      other.rotateSecret('svc', new SecretValue('v3'), 'cli');
      await nextRequest();
      expect(store.resolveToken(token)?.version).toBe(3);
      other.unbind('sb', 'K', 'cli');
      await nextRequest();
      expect(store.resolveToken(token)).toBeUndefined();
      other.deleteSandbox('sb', 'cli');
      await nextRequest();
      expect(store.getSandboxById(sandbox.id)).toBeUndefined();
    } finally {
      other.close();
    }
    // Unknown tokens are not remembered (a spray of them must not fill memory), and stay unknown.
    expect(store.resolveToken('sk-standin_nope')).toBeUndefined();
    expect(store.resolveToken('')).toBeUndefined();
  });
});
