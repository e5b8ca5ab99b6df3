import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeError, UsageError } from '../../src/errors.js';
import { createNetLogWriter } from '../../src/netlog/writer.js';
import type { NetLogRow } from '../../src/netlog/types.js';
import { tokenPrefixFor } from '../../src/providers/catalog.js';
import { SecretValue } from '../../src/secret-value.js';
import { openDatabase, type Db } from '../../src/store/database.js';
import { exportDefinitions, definitionProblems } from '../../src/store/definitions.js';
import { importDefinitions, isShortfall } from '../../src/store/import-definitions.js';
import { keyInUse, reencryptAll } from '../../src/store/rekey.js';
import { SqliteAsyncStore } from '../../src/store/sqlite-async-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { secretUsage, secretUsageOfRows } from '../../src/store/usage.js';
import { sqliteNetLog } from '../../src/netlog/sqlite-backend.js';
import { formatSchemeSpec, parseSchemeSpec } from '../../src/swap/scheme-spec.js';

let dir: string;
let db: Db;
let store: SqliteStore;
const KEY = randomBytes(32);
let now = 1_000;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-gov-'));
  db = openDatabase(path.join(dir, 'standin.db'));
  store = new SqliteStore(db, KEY, { clock: () => now++ });
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const v = (s: string): SecretValue => new SecretValue(s);
function create(name: string, extra: Partial<Parameters<SqliteStore['createSecret']>[0]> = {}): void {
  store.createSecret({ name, scheme: { kind: 'bearer' }, hosts: ['api.example.com'], value: v(`${name}-v1`), actor: 'cli:alice', ...extra });
}

describe('version retention', () => {
  it('keeps the newest 5 by default and prunes older ones on rotate, audited', () => {
    create('s');
    for (let i = 2; i <= 7; i++) store.rotateSecret('s', v(`s-v${i}`), 'cli:alice');
    expect(store.getSecret('s')).toMatchObject({ currentVersion: 7, versions: [3, 4, 5, 6, 7], keepVersions: 5 });
    const last = store.listAudit({ action: 'secret.rotate' }).at(-1);
    expect(last?.detail).toEqual({ environment: 'default', from: 6, to: 7, keep: 5, pruned: [2] });
    expect(() => store.secretValue(store.getSecret('s')!.id, 2)).toThrow();
    expect(store.secretValue(store.getSecret('s')!.id, 3).expose()).toBe('s-v3');
  });

  it('is configurable per secret, at creation or on rotate, and never prunes the current version', () => {
    create('s', { keepVersions: 3 });
    for (let i = 2; i <= 4; i++) store.rotateSecret('s', v(`s-v${i}`), 'a');
    expect(store.getSecret('s')?.versions).toEqual([2, 3, 4]);
    store.rotateSecret('s', v('s-v5'), 'a', { keepVersions: 2 });
    expect(store.getSecret('s')).toMatchObject({ versions: [4, 5], keepVersions: 2 });
    // Roll back, then rotate: the new version and the newest other one stay.
    expect(store.rollbackSecret('s', 'a')).toBe(4);
    store.rotateSecret('s', v('s-v6'), 'a');
    expect(store.getSecret('s')).toMatchObject({ currentVersion: 6, versions: [5, 6] });
    expect(store.rollbackSecret('s', 'a')).toBe(5);
  });

  it('refuses a retention outside 2..1000', () => {
    expect(() => create('s', { keepVersions: 1 })).toThrow(UsageError);
    create('t');
    expect(() => store.rotateSecret('t', v('x'), 'a', { keepVersions: 1001 })).toThrow(UsageError);
    expect(store.getSecret('t')?.versions).toEqual([1]);
  });

  it('stores and reads back list schemes and templates', () => {
    create('multi', { scheme: parseSchemeSpec('header:x-auth=Token {{value}},basic:u,query:key') });
    expect(formatSchemeSpec(store.getSecret('multi')!.scheme)).toBe('header:x-auth=Token {{value}},basic:u,query:key');
  });
});

describe('audit filters', () => {
  beforeEach(() => {
    create('a');
    create('b', { actor: 'cli:bob' });
    store.rotateSecret('a', v('a2'), 'cli:bob');
    store.audit('cli:carol', 'secret.reveal', 'a', { outcome: 'denied', reason: 'incident 42' });
  });

  it('by action (exact or prefix), target (any case), actor, since and limit', () => {
    expect(store.listAudit({ action: 'secret.create' }).map((e) => e.target)).toEqual(['a', 'b']);
    expect(store.listAudit({ action: 'secret.*' })).toHaveLength(4);
    expect(store.listAudit({ action: 'secret.r*' }).map((e) => e.action)).toEqual(['secret.rotate', 'secret.reveal']);
    expect(store.listAudit({ target: 'A' }).map((e) => e.action)).toEqual(['secret.create', 'secret.rotate', 'secret.reveal']);
    expect(store.listAudit({ actor: 'cli:bob' }).map((e) => e.action)).toEqual(['secret.create', 'secret.rotate']);
    expect(store.listAudit({ actor: 'cli:bob', target: 'a' })).toHaveLength(1);
    const all = store.listAudit({});
    expect(store.listAudit({ since: all[2]!.at })).toEqual(all.slice(2));
    expect(store.listAudit({ limit: 1 })).toEqual([all.at(-1)]);
    expect(store.listAudit({ action: 'secret.reveal' })[0]?.detail).toEqual({ outcome: 'denied', reason: 'incident 42' });
  });

  it('refuses empty filters', () => {
    expect(() => store.listAudit({ actor: ' ' })).toThrow(UsageError);
  });
});

describe('master key rotation (database side)', () => {
  it('re-encrypts every version and proxy key in one transaction, audited', () => {
    create('a');
    store.rotateSecret('a', v('a-v2'), 'x');
    const sb = store.createSandbox({ name: 'sb', allowHosts: [], bindings: [{ env: 'A', secretName: 'a' }], actor: 'x' });
    const fresh = randomBytes(32);
    expect(keyInUse(db, KEY, fresh)).toBe('old');
    expect(reencryptAll(db, KEY, fresh, 'cli:alice', { source: 'file' })).toEqual({ secretVersions: 2, sandboxes: 1 });
    expect(keyInUse(db, KEY, fresh)).toBe('new');
    const after = new SqliteStore(db, fresh);
    const id = after.getSecret('a')!.id;
    expect(after.secretValue(id, 1).expose()).toBe('a-v1');
    expect(after.secretValue(id, 2).expose()).toBe('a-v2');
    expect(after.proxyKey('sb')).toBe(sb.proxyKey);
    expect(() => store.secretValue(id, 2)).toThrow();
    expect(after.listAudit({ action: 'masterkey.rotate' })[0]?.detail).toEqual({ source: 'file', secretVersions: 2, sandboxes: 1 });
  });

  it('changes nothing when a value does not decrypt under the current key', () => {
    create('a');
    const wrong = randomBytes(32);
    expect(() => reencryptAll(db, wrong, randomBytes(32), 'x')).toThrow(RuntimeError);
    expect(store.secretValue(store.getSecret('a')!.id, 1).expose()).toBe('a-v1');
    expect(store.listAudit({ action: 'masterkey.rotate' })).toEqual([]);
  });

  it('reports an empty database', () => {
    expect(keyInUse(db, KEY, randomBytes(32))).toBe('empty');
  });
});

describe('secret usage from the network log', () => {
  it('counts rows per version, sandbox and host; names are case-insensitive and exact', async () => {
    const w = createNetLogWriter(db);
    const row = (at: number, sandbox: string, host: string, decision: NetLogRow['decision'], secrets: string[]): NetLogRow => ({
      requestId: `r${at}`, at, sandbox, tenant: 'default', method: 'GET', scheme: 'https', host, port: 443, path: '/', status: 200, decision, secrets,
      bytesIn: 0, bytesOut: 0, durationMs: 1, upstreamIp: null, errorCode: null,
    });
    w.record(row(10, 'sb1', 'api.openai.com', 'swapped', ['OpenAI@1']));
    w.record(row(20, 'sb1', 'api.openai.com', 'swapped', ['openai@2', 'other@1']));
    w.record(row(30, 'sb2', 'evil.test', 'token_misuse', ['openai@2']));
    w.record(row(40, 'sb2', 'api.openai.com', 'swapped', ['openai-x@2', 'openaiz@1']));
    w.close();
    const u = secretUsage(db, 'default', 'openai');
    expect(u).toMatchObject({ requests: 3, swapped: 2, refused: 1, firstUsed: 10, lastUsed: 30 });
    expect(u.versions.map((x) => [x.version, x.requests, x.lastUsed])).toEqual([[2, 2, 30], [1, 1, 10]]);
    expect(u.sandboxes.map((x) => [x.sandbox, x.requests])).toEqual([['sb2', 1], ['sb1', 2]]);
    expect(u.hosts.map((x) => [x.host, x.swapped, x.refused])).toEqual([['evil.test', 0, 1], ['api.openai.com', 2, 0]]);
    expect(secretUsage(db, 'default', 'openai', 25).requests).toBe(1);
    expect(secretUsage(db, 'default', 'nothing').requests).toBe(0);
    // The fleet's path (rows read through a network-log backend, as from PostgreSQL) counts the
    // same rows the same way, `since` and unknown names included.
    const log = sqliteNetLog(db);
    const viaRows = (name: string, since?: number): Promise<ReturnType<typeof secretUsage>> =>
      secretUsageOfRows(log.iterate({ tenant: 'default', secret: name, ...(since === undefined ? {} : { since }) }), name);
    expect(await viaRows('openai')).toEqual(u);
    expect(await viaRows('OPENAI', 25)).toEqual(secretUsage(db, 'default', 'openai', 25));
    expect((await viaRows('nothing')).requests).toBe(0);
  });
});

describe('export and import of definitions', () => {
  const hooks = { formatScheme: formatSchemeSpec, normalizeScheme: (t: string) => formatSchemeSpec(parseSchemeSpec(t)), tokenPrefixFor };

  it('exports references only and imports what is missing into another store', async () => {
    create('openai', { provider: 'openai', value: v('sk-PLANTED-export') });
    create('gh', { scheme: parseSchemeSpec('bearer,basic:x-access-token') });
    store.createSandbox({ name: 'agent', allowHosts: ['api.example.com'], bindings: [{ env: 'OPENAI_API_KEY', secretName: 'openai' }, { env: 'GH', secretName: 'gh' }], actor: 'x' });
    const defs = await exportDefinitions(new SqliteAsyncStore(store, db), formatSchemeSpec);
    expect(JSON.stringify(defs)).not.toContain('PLANTED');
    expect(JSON.stringify(defs)).not.toContain('standin_');
    expect(definitionProblems(defs)).toEqual([]);
    expect(defs.sandboxes).toEqual([{ name: 'agent', environment: 'default', allowHosts: ['api.example.com'], bindings: { GH: 'gh', OPENAI_API_KEY: 'openai' } }]);
    expect(defs.secrets.map((s) => s.scheme)).toEqual(['bearer,basic:x-access-token', 'bearer']);

    const db2 = openDatabase(path.join(dir, 'other.db'));
    const other = new SqliteStore(db2, randomBytes(32));
    try {
      other.createSecret({ name: 'openai', scheme: { kind: 'bearer' }, hosts: ['api.openai.com'], provider: 'openai', value: v('x'), actor: 'x' });
      const first = await importDefinitions(new SqliteAsyncStore(other, db2), defs, 'cli:import', hooks);
      expect(first.filter(isShortfall).map((i) => i.kind).sort()).toEqual(['binding-skipped', 'secret-differs', 'secret-missing']);
      const b = other.listBindings('agent');
      expect(b.map((x) => x.env)).toEqual(['OPENAI_API_KEY']);
      expect(b[0]?.token.startsWith('sk-standin_')).toBe(true);
      // Once the missing secret exists, a second import completes the bindings and changes nothing else.
      other.createSecret({ name: 'gh', scheme: parseSchemeSpec('bearer,basic:x-access-token'), hosts: ['api.example.com'], value: v('y'), actor: 'x' });
      const second = await importDefinitions(new SqliteAsyncStore(other, db2), defs, 'cli:import', hooks);
      expect(second.filter((i) => i.kind === 'binding-added')).toEqual([{ kind: 'binding-added', sandbox: 'agent', env: 'GH', secret: 'gh' }]);
      expect(other.listBindings('agent').find((x) => x.env === 'OPENAI_API_KEY')?.token).toBe(b[0]?.token);
    } finally {
      other.close();
    }
  });

  it('reports every shape problem at once and refuses values', () => {
    expect(definitionProblems({ version: 2, secrets: [{ name: 1, value: 'x' }], sandboxes: {}, extra: 1 })).toEqual([
      'unsupported version 2: this standin reads version 1',
      'unknown field "extra"',
      'secrets[0].name must be a string',
      'secrets[0].scheme must be a string',
      'secrets[0].hosts must be a list of strings',
      'secrets[0] has a "value": values are never imported, create the secret with `standin secret create`',
      '"sandboxes" must be a list',
    ]);
  });
});
