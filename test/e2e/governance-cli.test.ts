import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { reencryptAll } from '../../src/store/rekey.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { removeHome, standin, type CliResult } from '../helpers/serve.js';

// The built CLI for issue #5's governance commands, on fresh homes.
const PLANTED = { gh: 'ghp_PLANTED-gh-5e1c7a', tmpl: 'PLANTED-tmpl-9b3d2f', rot: 'PLANTED-rot-', env: 'PLANTED-envkey-4d8a' };
let root: string;
let home: string;
const outputs: string[] = [];

function cli(args: string[], input?: string, env: NodeJS.ProcessEnv = {}, at = home): CliResult {
  const r = standin(at, args, input, env);
  outputs.push(r.stdout, r.stderr);
  return r;
}
function ok(args: string[], input?: string, env?: NodeJS.ProcessEnv, at?: string): string {
  const r = cli(args, input, env, at);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}
function fails(code: number, args: string[], input?: string, env?: NodeJS.ProcessEnv, at?: string): string {
  const r = cli(args, input, env, at);
  expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(code);
  expect(r.stderr).toMatch(/^standin: [^\n]+\n$/);
  return r.stderr;
}
const json = <T>(text: string): T => JSON.parse(text) as T;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'standin-gov-cli-'));
  home = join(root, 'home');
  ok(['init']);
});
afterAll(() => removeHome(root));

describe('providers and declared schemes', () => {
  it('lists the catalogue, and a preset needs only a name and a value', () => {
    const list = json<{ id: string; scheme: string; hosts: string[] }[]>(ok(['providers', '--json']));
    expect(list.length).toBeGreaterThanOrEqual(15);
    expect(list.find((p) => p.id === 'github')).toMatchObject({ scheme: 'bearer,basic:x-access-token', hosts: ['api.github.com', 'github.com', 'uploads.github.com'] });
    expect(ok(['providers'])).toContain('header:private-token,bearer,basic');
    expect(ok(['secret', 'create', 'gh', '--provider', 'github', '--value-stdin'], PLANTED.gh)).toBe(
      'created secret gh (version 1, scheme bearer,basic:x-access-token, hosts api.github.com,github.com,uploads.github.com)\n',
    );
  });

  it('takes templates and lists, as a comma list or repeated flags', () => {
    ok(['secret', 'create', 'tmpl', '--hosts', 'api.x.test', '--scheme', 'header:X-Auth=Token {{value}}', '--scheme', 'query:key', '--value-stdin'], PLANTED.tmpl);
    expect(json<{ scheme: string }>(ok(['secret', 'show', 'tmpl', '--json'])).scheme).toBe('header:x-auth=Token {{value}},query:key');
    expect(fails(2, ['secret', 'create', 'bad', '--hosts', 'a.test', '--scheme', 'header:x-auth=Token', '--value-stdin'], 'v'))
      .toContain('{{value}} exactly once');
    fails(2, ['secret', 'create', 'bad', '--hosts', 'a.test', '--scheme', 'bearer,bearer', '--value-stdin'], 'v');
  });
});

describe('rotation retention', () => {
  it('keeps the newest N, configurable, and rollback still works inside the window', () => {
    ok(['secret', 'create', 'rot', '--hosts', 'api.x.test', '--keep', '3', '--value-stdin'], `${PLANTED.rot}1`);
    for (let i = 2; i <= 4; i++) ok(['secret', 'rotate', 'rot', '--value-stdin'], `${PLANTED.rot}${i}`);
    expect(ok(['secret', 'rotate', 'rot', '--keep', '2', '--value-stdin'], `${PLANTED.rot}5`)).toBe('rotated secret rot to version 5 (kept: 4, 5)\n');
    expect(json<{ versions: number[]; keepVersions: number }>(ok(['secret', 'show', 'rot', '--json']))).toMatchObject({ versions: [4, 5], keepVersions: 2 });
    expect(ok(['secret', 'rollback', 'rot'])).toBe('rolled back secret rot to version 4\n');
    fails(2, ['secret', 'rollback', 'rot']);
    expect(fails(2, ['secret', 'rotate', 'rot', '--keep', '1', '--value-stdin'], 'x')).toContain('--keep must be an integer from 2 to 1000');
  });
});

describe('reveal is refused and audited', () => {
  it('needs a reason, refuses with exit 1, and records the attempt', () => {
    expect(fails(2, ['secret', 'reveal', 'gh'])).toContain('--reason is required');
    const r = cli(['secret', 'reveal', 'gh', '--reason', 'incident 42: verify key']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^standin: refused: the CLI never prints a value; break glass through the control API[^\n]*\n$/);
    fails(2, ['secret', 'reveal', 'nope', '--reason', 'probing']);
    const events = json<{ action: string; target: string; detail: Record<string, unknown> }[]>(ok(['audit', '--action', 'secret.reveal', '--json']));
    expect(events.map((e) => [e.target, e.detail.reason, e.detail.allowed])).toEqual([['gh', 'incident 42: verify key', false], ['nope', 'probing', false]]);
  });
});

describe('audit filters', () => {
  it('filters by action, target, actor, since and limit; bad input is exit 2', () => {
    const rotations = json<{ target: string }[]>(ok(['audit', '--action', 'secret.rotate', '--json']));
    expect(rotations).toHaveLength(4);
    expect(json<unknown[]>(ok(['audit', '--target', 'ROT', '--json']))).toHaveLength(6);
    expect(json<unknown[]>(ok(['audit', '--action', 'secret.*', '--target', 'rot', '--limit', '1', '--json']))).toHaveLength(1);
    const actor = json<{ actor: string }[]>(ok(['audit', '--limit', '1', '--json']))[0]!.actor;
    expect(json<unknown[]>(ok(['audit', '--actor', actor, '--since', '1h', '--json'])).length).toBeGreaterThan(5);
    expect(ok(['audit', '--actor', 'cli:nobody'])).toBe('no audit events\n');
    fails(2, ['audit', '--since', 'yesterday']);
    fails(2, ['audit', '--limit', '-1']);
    fails(2, ['audit', '--action', 'bad action']);
  });
});

describe('secret usage', () => {
  it('reads the network log per version, sandbox and host', () => {
    const db = new Database(join(home, 'standin.db'));
    const insert = db.prepare(`INSERT INTO network_log (request_id, at, tenant, sandbox, method, scheme, host, port, path, status, decision, secrets, bytes_in, bytes_out, duration_ms)
      VALUES (?, ?, 'default', ?, 'GET', 'https', ?, 443, '/', ?, ?, ?, 0, 0, 1)`);
    const t = Date.now();
    insert.run('r1', t - 3000, 'agent', 'api.github.com', 200, 'swapped', '["gh@1"]');
    insert.run('r2', t - 2000, 'ci', 'github.com', 200, 'swapped', '["gh@1","tmpl@1"]');
    insert.run('r3', t - 1000, 'agent', 'evil.test', 403, 'token_misuse', '["gh@1"]');
    db.close();
    const u = json<{ requests: number; swapped: number; refused: number; versions: { version: number }[]; sandboxes: { sandbox: string; requests: number }[] }>(
      ok(['secret', 'usage', 'gh', '--json']),
    );
    expect(u).toMatchObject({ requests: 3, swapped: 2, refused: 1, versions: [{ version: 1 }] });
    expect(u.sandboxes.map((s) => [s.sandbox, s.requests])).toEqual([['agent', 2], ['ci', 1]]);
    const text = ok(['secret', 'usage', 'gh']);
    expect(text).toContain('secret gh: 3 requests (2 swapped, 1 refused, 0 failed)');
    expect(text).toMatch(/v1 \(default, current\)\s+3\s+2\s+1\s+0/);
    expect(ok(['secret', 'usage', 'rot'])).toBe('secret rot has not been used\n');
    fails(2, ['secret', 'usage', 'nope']);
  });
});

describe('export and import', () => {
  it('carries references only; import creates what is missing and reports the rest', () => {
    ok(['sandbox', 'create', 'agent', '--bind', 'GITHUB_TOKEN=gh', '--bind', 'X_AUTH=tmpl', '--allow-host', 'api.github.com']);
    const exported = ok(['export']);
    for (const v of Object.values(PLANTED)) expect(exported).not.toContain(v);
    expect(exported).not.toContain('standin_');
    const defs = json<{ secrets: { name: string }[]; sandboxes: unknown[] }>(exported);
    expect(defs.sandboxes).toEqual([{ name: 'agent', environment: 'default', allowHosts: ['api.github.com'], bindings: { GITHUB_TOKEN: 'gh', X_AUTH: 'tmpl' } }]);
    const file = join(root, 'defs.json');
    writeFileSync(file, exported);

    const other = join(root, 'other');
    ok(['init'], undefined, {}, other);
    ok(['secret', 'create', 'gh', '--provider', 'github', '--value-stdin'], PLANTED.gh, {}, other);
    expect(cli(['import', file, '--dry-run'], undefined, {}, other).stdout).toContain('(dry run) created sandbox agent with GITHUB_TOKEN');
    expect(ok(['sandbox', 'list', '--json'], undefined, {}, other)).toBe('[]\n');
    const r = cli(['import', file], undefined, {}, other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^standin: import incomplete: \d+ item\(s\) need attention\n$/);
    expect(r.stdout).toContain('created sandbox agent with GITHUB_TOKEN');
    expect(r.stdout).toContain('missing secret tmpl: create it with `standin secret create tmpl');
    expect(r.stdout).toContain('skipped X_AUTH=tmpl in sandbox agent: secret missing');
    const env = json<Record<string, string>>(ok(['sandbox', 'env', 'agent', '--format', 'json'], undefined, {}, other));
    expect(env.GITHUB_TOKEN).toMatch(/^ghp_standin_/);

    ok(['secret', 'create', 'tmpl', '--hosts', 'api.x.test', '--scheme', 'header:x-auth=Token {{value}},query:key', '--value-stdin'], 'v', {}, other);
    ok(['secret', 'create', 'rot', '--hosts', 'api.x.test', '--keep', '2', '--value-stdin'], 'v', {}, other);
    expect(ok(['import', file], undefined, {}, other)).toBe('bound X_AUTH to secret tmpl in sandbox agent\n');
    expect(json<{ complete: boolean }>(ok(['import', file, '--json'], undefined, {}, other)).complete).toBe(true);

    writeFileSync(join(root, 'bad.json'), JSON.stringify({ secrets: [{ name: 'x', scheme: 'digest', hosts: ['a.test'], value: 'sk-nope' }] }));
    const bad = cli(['import', join(root, 'bad.json')], undefined, {}, other);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(2);
    expect(bad.stderr).not.toContain('sk-nope');
    writeFileSync(join(root, 'notjson.json'), '{"secrets": [sk-PLANTED');
    expect(fails(2, ['import', join(root, 'notjson.json')], undefined, {}, other)).not.toContain('PLANTED');
  });
});

describe('master key rotation', () => {
  it('re-encrypts everything under a new key file, atomically replaced, audited', () => {
    const keyFile = join(home, 'master.key');
    const before = readFileSync(keyFile, 'utf8');
    const envBefore = json<Record<string, string>>(ok(['sandbox', 'env', 'agent', '--format', 'json']));
    const outText = ok(['masterkey', 'rotate']);
    expect(outText).toMatch(/^re-encrypted 4 secret versions and 1 sandbox keys;/);
    expect(outText).toContain('a running `standin serve` picks up the new key file by itself');
    const after = readFileSync(keyFile, 'utf8');
    expect(after).not.toBe(before);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(`${keyFile}.new`)).toBe(false);
    // The proxy key decrypts under the new key, and so does every secret version.
    expect(json<Record<string, string>>(ok(['sandbox', 'env', 'agent', '--format', 'json']))).toEqual(envBefore);
    const store = new SqliteStore(openDatabase(join(home, 'standin.db')), Buffer.from(after.trim(), 'base64'));
    try {
      const gh = store.getSecret('gh')!;
      expect(store.secretValue(gh.id, 1).expose()).toBe(PLANTED.gh);
      const rot = store.getSecret('rot')!;
      expect(rot.versions.map((n) => store.secretValue(rot.id, n).expose())).toEqual([`${PLANTED.rot}4`, `${PLANTED.rot}5`]);
      expect(store.listAudit({ action: 'masterkey.rotate' })[0]?.detail).toMatchObject({ source: 'file', secretVersions: 4, sandboxes: 1 });
    } finally {
      store.close();
    }
  });

  it('finishes a rotation interrupted between the commit and the rename', () => {
    const keyFile = join(home, 'master.key');
    const current = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
    const next = randomBytes(32);
    // Simulate the crash: the database is re-encrypted, the new key is still beside the old file.
    const db = openDatabase(join(home, 'standin.db'));
    reencryptAll(db, current, next, 'test');
    db.close();
    writeFileSync(`${keyFile}.new`, `${next.toString('base64')}\n`, { mode: 0o600 });
    fails(1, ['sandbox', 'env', 'agent']);
    expect(ok(['masterkey', 'rotate'])).toContain('finished an interrupted rotation');
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(next.toString('base64'));
    ok(['sandbox', 'env', 'agent']);
  });

  it('with STANDIN_MASTER_KEY: refuses without --new-key-env, re-encrypts with it', () => {
    const envHome = join(root, 'envhome');
    const oldKey = randomBytes(32).toString('base64');
    const newKey = randomBytes(32).toString('hex');
    ok(['init'], undefined, { STANDIN_MASTER_KEY: oldKey }, envHome);
    ok(['secret', 'create', 'e', '--hosts', 'a.test', '--value-stdin'], PLANTED.env, { STANDIN_MASTER_KEY: oldKey }, envHome);
    ok(['sandbox', 'create', 'sb', '--bind', 'E=e'], undefined, { STANDIN_MASTER_KEY: oldKey }, envHome);
    expect(fails(2, ['masterkey', 'rotate'], undefined, { STANDIN_MASTER_KEY: oldKey }, envHome)).toContain('--new-key-env');
    fails(2, ['masterkey', 'rotate', '--new-key-env', 'UNSET_VAR'], undefined, { STANDIN_MASTER_KEY: oldKey }, envHome);
    const out = ok(['masterkey', 'rotate', '--new-key-env', 'NEXT_KEY'], undefined, { STANDIN_MASTER_KEY: oldKey, NEXT_KEY: newKey }, envHome);
    expect(out).toContain('set STANDIN_MASTER_KEY');
    fails(1, ['sandbox', 'env', 'sb'], undefined, { STANDIN_MASTER_KEY: oldKey }, envHome);
    ok(['sandbox', 'env', 'sb'], undefined, { STANDIN_MASTER_KEY: newKey }, envHome);
    for (const o of outputs) expect(o).not.toContain(newKey);
  });
});

describe('secrecy', () => {
  it('no planted value appears in any output', () => {
    const all = outputs.join('\n');
    for (const v of [PLANTED.gh, PLANTED.tmpl, PLANTED.env, `${PLANTED.rot}5`]) expect(all).not.toContain(v);
  });
});
