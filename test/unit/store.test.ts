import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError, RuntimeError, UsageError } from '../../src/errors.js';
import { SecretValue } from '../../src/secret-value.js';
import { openDatabase, userVersion, type Db } from '../../src/store/database.js';
import { SCHEMA_VERSION } from '../../src/store/schema.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { CreateSecretInput } from '../../src/store/types.js';
import { tokenCorePattern } from '../../src/model/token-format.js';

const KEY = randomBytes(32);
const VALUE = 'sk-PLANTED-REAL-VALUE-7f3a9c';
let dir: string;
let file: string;
let opened: { db: Db; store: SqliteStore }[];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-store-'));
  file = path.join(dir, 'standin.db');
  opened = [];
});
afterEach(() => {
  for (const o of opened) o.store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function open(key: Buffer = KEY, clock?: () => number): { db: Db; store: SqliteStore } {
  const db = openDatabase(file);
  const store = new SqliteStore(db, key, clock ? { clock } : {});
  opened.push({ db, store });
  return { db, store };
}

function secret(name: string, value = VALUE, extra: Partial<CreateSecretInput> = {}): CreateSecretInput {
  return { name, scheme: { kind: 'bearer' }, hosts: ['API.Example.com '], value: new SecretValue(value), actor: 'test', ...extra };
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('database and migrations', () => {
  it('creates the file 0600 in WAL mode and migrates idempotently', () => {
    const a = openDatabase(file);
    expect(userVersion(a)).toBe(SCHEMA_VERSION);
    expect(a.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(a.pragma('foreign_keys', { simple: true })).toBe(1);
    a.close();
    if (process.platform !== 'win32') expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const b = openDatabase(file);
    expect(userVersion(b)).toBe(SCHEMA_VERSION);
    const tables = b.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(['api_keys', 'audit', 'bindings', 'master_key_epoch', 'network_log', 'network_log_anchor', 'recent_unbinds', 'sandboxes', 'secret_current', 'secret_versions', 'secrets', 'tenants']);
    b.close();
  });

  it('has the network_log table and indexes the netlog writer relies on', () => {
    const db = openDatabase(file);
    const cols = db.prepare('PRAGMA table_info(network_log)').all() as { name: string; notnull: number }[];
    expect(cols.map((c) => c.name)).toEqual([
      'id', 'request_id', 'at', 'sandbox', 'method', 'scheme', 'host', 'port', 'path', 'status', 'decision',
      'secrets', 'bytes_in', 'bytes_out', 'duration_ms', 'upstream_ip', 'error_code', 'tenant', 'complete',
      'detail', 'chain_seq', 'hash', 'gateway',
    ]);
    const nullable = cols.filter((c) => c.notnull === 0).map((c) => c.name);
    expect(nullable).toEqual(['id', 'sandbox', 'upstream_ip', 'error_code', 'tenant', 'detail', 'chain_seq', 'hash']);
    const indexed = (db.prepare("SELECT name FROM pragma_index_list('network_log')").pluck().all() as string[])
      .map((n) => (db.prepare(`SELECT name FROM pragma_index_info('${n}')`).pluck().all() as string[]).join(','))
      .sort();
    expect(indexed).toEqual(['at', 'decision,at', 'gateway,chain_seq', 'host,at', 'request_id', 'sandbox,at', 'status,at', 'tenant,at']);
    db.close();
  });

  it('refuses a database from a newer standin', () => {
    const db = openDatabase(file);
    db.pragma('user_version = 99');
    db.close();
    expect(() => openDatabase(file)).toThrow(RuntimeError);
    expect(() => openDatabase(file)).toThrow(/newer than this standin/);
  });
});

describe('secrets', () => {
  it('never returns the value from create, list or get', () => {
    const { store } = open();
    const created = store.createSecret(secret('openai-prod'));
    expect(created).toMatchObject({ name: 'openai-prod', hosts: ['api.example.com'], currentVersion: 1, versions: [1] });
    expect(created.id).toMatch(/^sec_[0-9a-f]{16}$/);
    for (const out of [created, store.listSecrets(), store.getSecret('openai-prod')]) {
      expect(JSON.stringify(out)).not.toContain(VALUE);
    }
    expect(store.secretValue(created.id, 1).expose()).toBe(VALUE);
  });

  it('treats names case-insensitively', () => {
    const { store } = open();
    store.createSecret(secret('OpenAI-Prod'));
    expect(store.getSecret('openai-prod')?.name).toBe('OpenAI-Prod');
    expect(errorOf(() => store.createSecret(secret('OPENAI-PROD')))).toEqual(
      new UsageError("secret 'OPENAI-PROD' already exists"),
    );
    expect(store.rotateSecret('OPENAI-prod', new SecretValue('v2'), 't')).toBe(2);
  });

  it('validates input with UsageErrors that never contain the value', () => {
    const { store } = open();
    for (const name of ['', '-x', 'a b', 'x'.repeat(64), 'ümlaut']) {
      expect(() => store.createSecret(secret(name))).toThrow(UsageError);
    }
    expect(() => store.createSecret(secret('h', VALUE, { hosts: [] }))).toThrow(UsageError);
    expect(() => store.createSecret(secret('h', VALUE, { hosts: ['a.com', ' '] }))).toThrow(UsageError);
    for (const bad of ['', `${VALUE}\n`, `${VALUE}\r`, `a\u0000b${VALUE}`, VALUE + 'x'.repeat(16 * 1024)]) {
      const e = errorOf(() => store.createSecret(secret('v', bad)));
      expect(e).toBeInstanceOf(UsageError);
      if (bad !== '') expect(e.message).not.toContain(VALUE);
    }
    expect(() => store.getSecret('missing')).not.toThrow();
    expect(errorOf(() => store.rotateSecret('missing', new SecretValue('x'), 't')).message).toBe("no secret named 'missing'");
    expect(store.listSecrets()).toEqual([]);
  });

  it('rotates and rolls back through kept versions', () => {
    const { store } = open();
    const s = store.createSecret(secret('gh'));
    expect(store.rotateSecret('gh', new SecretValue('v2'), 't')).toBe(2);
    expect(store.rotateSecret('gh', new SecretValue('v3'), 't')).toBe(3);
    expect(store.getSecret('gh')).toMatchObject({ currentVersion: 3, versions: [1, 2, 3] });
    expect(store.rollbackSecret('gh', 't')).toBe(2);
    expect(store.rollbackSecret('gh', 't')).toBe(1);
    expect(() => store.rollbackSecret('gh', 't')).toThrow(UsageError);
    // A rotation after a rollback takes a fresh number, never reusing an old version.
    expect(store.rotateSecret('gh', new SecretValue('v4'), 't')).toBe(4);
    expect([1, 2, 3, 4].map((v) => store.secretValue(s.id, v).expose())).toEqual([VALUE, 'v2', 'v3', 'v4']);
    expect(() => store.secretValue(s.id, 9)).toThrow(GatewayError);
  });

  it('binds each ciphertext to its secret and version (AAD)', () => {
    const { db, store } = open();
    const a = store.createSecret(secret('a', 'value-a'));
    const b = store.createSecret(secret('b', 'value-b'));
    const get = db.prepare('SELECT ciphertext FROM secret_versions WHERE secret_id = ?').pluck();
    const [ca, cb] = [get.get(a.id), get.get(b.id)];
    const put = db.prepare('UPDATE secret_versions SET ciphertext = ? WHERE secret_id = ?');
    put.run(cb, a.id);
    put.run(ca, b.id);
    const e = errorOf(() => store.secretValue(a.id, 1));
    expect(e).toBeInstanceOf(GatewayError);
    expect((e as GatewayError).code).toBe('GW_SECRET_UNAVAILABLE');
    expect(() => store.secretValue(b.id, 1)).toThrow(GatewayError);
  });

  it('fails cleanly under the wrong master key', () => {
    const { store } = open();
    const s = store.createSecret(secret('k'));
    const { proxyKey } = store.createSandbox({ name: 'box', allowHosts: [], bindings: [], actor: 't' });
    const other = open(randomBytes(32)).store;
    expect(other.getSecret('k')?.id).toBe(s.id); // metadata is readable, values are not
    expect(() => other.secretValue(s.id, 1)).toThrow(GatewayError);
    expect(errorOf(() => other.proxyKey('box'))).toEqual(
      new RuntimeError('stored secret could not be decrypted (wrong master key?)'),
    );
    expect(other.authenticateSandbox('box', proxyKey)?.name).toBe('box'); // the hash needs no key
  });

  it('keeps plaintext values and proxy keys out of the database files', () => {
    const { db, store } = open();
    store.createSecret(secret('plant'));
    store.rotateSecret('plant', new SecretValue(`${VALUE}-v2`), 't');
    const { proxyKey } = store.createSandbox({ name: 'box', allowHosts: [], bindings: [{ env: 'K', secretName: 'plant' }], actor: 't' });
    const raw = (): Buffer =>
      Buffer.concat(['', '-wal', '-shm'].filter((s) => fs.existsSync(file + s)).map((s) => fs.readFileSync(file + s)));
    const check = (): void => {
      const bytes = raw();
      expect(bytes.length).toBeGreaterThan(0);
      expect(bytes.includes(Buffer.from('PLANTED-REAL-VALUE'))).toBe(false);
      expect(bytes.includes(Buffer.from(proxyKey))).toBe(false);
      expect(bytes.includes(Buffer.from('plant'))).toBe(true); // proves the grep sees the data
    };
    check();
    db.pragma('wal_checkpoint(TRUNCATE)');
    check();
  });
});

describe('sandboxes, bindings and tokens', () => {
  it('creates a sandbox with bindings, unique tokens and a proxy key', () => {
    const { store } = open();
    store.createSecret(secret('s1'));
    store.createSecret(secret('s2', 'v', { scheme: { kind: 'header', header: 'x-api-key' } }));
    const r = store.createSandbox({
      name: 'Agent-1',
      allowHosts: ['API.example.com'],
      bindings: [{ env: 'A', secretName: 's1' }, { env: 'B', secretName: 'S2', tokenPrefix: 'sk-ant-' }],
      actor: 't',
    });
    expect(r.proxyKey).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(r.sandbox).toMatchObject({ name: 'Agent-1', allowHosts: ['api.example.com'] });
    expect(r.sandbox.id).toMatch(/^sbx_[0-9a-f]{16}$/);
    const [a, b] = r.bindings;
    expect(a?.token).toMatch(/^standin_[0-9A-Za-z]{32}$/);
    expect(b?.token.startsWith('sk-ant-standin_')).toBe(true);
    expect(b?.token.match(tokenCorePattern())).toHaveLength(1);
    expect(store.listBindings('agent-1')).toEqual(r.bindings);
    const res = store.resolveToken(b?.token ?? '');
    expect(res).toMatchObject({ sandboxId: r.sandbox.id, env: 'B', secret: { name: 's2', scheme: { kind: 'header', header: 'x-api-key' } } });
    expect(store.resolveToken(`${b?.token}x`)).toBeUndefined();
    expect(store.resolveToken('')).toBeUndefined();
    expect(store.getSandboxById(r.sandbox.id)).toEqual(r.sandbox);
    expect(store.proxyKey('AGENT-1')).toBe(r.proxyKey);
  });

  it('gives every binding a distinct token, and rebinding replaces it', () => {
    const { store } = open();
    store.createSecret(secret('s'));
    const tokens = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = store.createSandbox({ name: `b${i}`, allowHosts: [], bindings: [{ env: 'K', secretName: 's' }], actor: 't' });
      tokens.add(r.bindings[0]?.token ?? '');
    }
    expect(tokens.size).toBe(20);
    const old = store.listBindings('b0')[0]?.token ?? '';
    const fresh = store.bind('b0', 'K', 's', 't');
    expect(fresh.token).not.toBe(old);
    expect(store.resolveToken(old)).toBeUndefined();
    expect(store.resolveToken(fresh.token)?.env).toBe('K');
    expect(store.listBindings('b0')).toHaveLength(1);
  });

  it('rejects bad input and leaves nothing half-created', () => {
    const { store } = open();
    store.createSecret(secret('s'));
    expect(() => store.createSandbox({ name: 'x', allowHosts: [], bindings: [{ env: 'K', secretName: 'nope' }], actor: 't' })).toThrow(UsageError);
    expect(store.getSandbox('x')).toBeUndefined();
    expect(() => store.createSandbox({ name: 'x', allowHosts: [], bindings: [{ env: '1BAD', secretName: 's' }], actor: 't' })).toThrow(UsageError);
    expect(() => store.createSandbox({ name: 'x', allowHosts: [], bindings: [{ env: 'K', secretName: 's' }, { env: 'K', secretName: 's' }], actor: 't' })).toThrow(UsageError);
    store.createSandbox({ name: 'x', allowHosts: [], bindings: [], actor: 't' });
    expect(() => store.createSandbox({ name: 'X', allowHosts: [], bindings: [], actor: 't' })).toThrow("sandbox 'X' already exists");
    expect(() => store.bind('x', 'K', 'nope', 't')).toThrow("no secret named 'nope'");
    expect(() => store.bind('nope', 'K', 's', 't')).toThrow("no sandbox named 'nope'");
    expect(() => store.bind('x', 'K', 's', 't', 'bad prefix!')).toThrow(UsageError);
    expect(() => store.unbind('x', 'K', 't')).toThrow(UsageError);
    expect(() => store.listBindings('nope')).toThrow(UsageError);
  });

  it('authenticates only the right key for the right sandbox', () => {
    const { store } = open();
    const a = store.createSandbox({ name: 'a', allowHosts: [], bindings: [], actor: 't' });
    const b = store.createSandbox({ name: 'b', allowHosts: [], bindings: [], actor: 't' });
    expect(store.authenticateSandbox('a', a.proxyKey)?.id).toBe(a.sandbox.id);
    expect(store.authenticateSandbox('a', b.proxyKey)).toBeUndefined();
    expect(store.authenticateSandbox('a', `${a.proxyKey}x`)).toBeUndefined();
    expect(store.authenticateSandbox('a', '')).toBeUndefined();
    expect(store.authenticateSandbox('nobody', a.proxyKey)).toBeUndefined();
    expect(store.authenticateSandbox('', '')).toBeUndefined();
  });

  it('cascades deletes to bindings and versions', () => {
    const { db, store } = open();
    const s = store.createSecret(secret('s'));
    store.createSecret(secret('t'));
    const r = store.createSandbox({ name: 'x', allowHosts: [], bindings: [{ env: 'S', secretName: 's' }, { env: 'T', secretName: 't' }], actor: 'a' });
    const [bs, bt] = r.bindings;
    store.deleteSecret('S', 'a');
    expect(store.getSecret('s')).toBeUndefined();
    expect(store.resolveToken(bs?.token ?? '')).toBeUndefined();
    expect(store.listBindings('x').map((b) => b.env)).toEqual(['T']);
    expect(db.prepare('SELECT COUNT(*) FROM secret_versions WHERE secret_id = ?').pluck().get(s.id)).toBe(0);
    expect(() => store.secretValue(s.id, 1)).toThrow(GatewayError);
    store.deleteSandbox('X', 'a');
    expect(store.getSandbox('x')).toBeUndefined();
    expect(store.resolveToken(bt?.token ?? '')).toBeUndefined();
    expect(db.prepare('SELECT COUNT(*) FROM bindings').pluck().get()).toBe(0);
    expect(store.getSecret('t')).toBeDefined();
    expect(() => store.deleteSandbox('x', 'a')).toThrow("no sandbox named 'x'");
  });
});

describe('audit', () => {
  it('records every mutation without values, keys or tokens', () => {
    let now = 1000;
    const { store } = open(KEY, () => now++);
    store.createSecret(secret('s'));
    store.rotateSecret('s', new SecretValue(`${VALUE}2`), 'alice');
    store.rollbackSecret('s', 'alice');
    const r = store.createSandbox({ name: 'x', allowHosts: [], bindings: [{ env: 'S', secretName: 's' }], actor: 'bob' });
    const rebound = store.bind('x', 'S', 's', 'bob');
    store.unbind('x', 'S', 'bob');
    store.deleteSandbox('x', 'bob');
    store.deleteSecret('s', 'alice');
    const events = store.listAudit({});
    expect(events.map((e) => e.action)).toEqual([
      'secret.create', 'secret.rotate', 'secret.rollback', 'sandbox.create', 'sandbox.bind', 'sandbox.unbind',
      'sandbox.delete', 'secret.delete',
    ]);
    expect(events[1]).toMatchObject({ actor: 'alice', target: 's', detail: { from: 1, to: 2 } });
    const text = JSON.stringify(events);
    for (const leak of ['PLANTED', r.proxyKey, r.bindings[0]?.token ?? '?', rebound.token]) expect(text).not.toContain(leak);
    expect(store.listAudit({ limit: 2 }).map((e) => e.action)).toEqual(['sandbox.delete', 'secret.delete']);
    expect(store.listAudit({ since: events[6]?.at ?? 0 })).toHaveLength(2);
    // A failed mutation leaves no audit row.
    expect(() => store.rollbackSecret('gone', 'x')).toThrow(UsageError);
    expect(store.listAudit({})).toHaveLength(8);
  });
});

describe('two connections to one file (CLI and running gateway)', () => {
  it('see each other’s writes on the next request', async () => {
    // Each gateway request is a new synchronous run (lookup-cache.ts checks other connections once per run).
    const nextRequest = (): Promise<void> => new Promise((r) => setImmediate(r));
    const cli = open().store;
    const gw = open().store;
    const s = cli.createSecret(secret('s'));
    expect(gw.getSecret('s')?.id).toBe(s.id);
    const r = cli.createSandbox({ name: 'x', allowHosts: [], bindings: [{ env: 'K', secretName: 's' }], actor: 't' });
    const token = r.bindings[0]?.token ?? '';
    expect(gw.authenticateSandbox('x', r.proxyKey)?.id).toBe(r.sandbox.id);
    expect(gw.resolveToken(token)?.secret.currentVersion).toBe(1);
    cli.rotateSecret('s', new SecretValue('v2'), 't');
    await nextRequest();
    const res = gw.resolveToken(token);
    expect(res?.secret.currentVersion).toBe(2);
    expect(gw.secretValue(s.id, res?.secret.currentVersion ?? 0).expose()).toBe('v2');
    cli.unbind('x', 'K', 't');
    await nextRequest();
    expect(gw.resolveToken(token)).toBeUndefined();
    gw.deleteSandbox('x', 'gw');
    expect(cli.getSandbox('x')).toBeUndefined();
  });
});
