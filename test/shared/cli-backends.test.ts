import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { backends } from '../helpers/backends.js';
import { pgNetLog } from '../../src/netlog/pg/backend.js';
import { sqliteNetLog } from '../../src/netlog/sqlite-backend.js';
import { openDatabase } from '../../src/store/database.js';
import { CLI, removeHome, standin, type CliResult } from '../helpers/serve.js';

// Each test is a script of CLI runs (about a second each, more on a busy machine).
vi.setConfig({ testTimeout: 180_000 });

// The command line end to end, the same script against both backends: SQLite in the home, and
// PostgreSQL chosen by STANDIN_DATABASE_URL (and by --database). Nothing a user types differs.
const PLANTED = 'sk-PLANTED-cli-backends-7f3a9c';
const ROTATED = 'sk-PLANTED-cli-rotated-2b8e1d';

describe.each(backends())('CLI on $name', (backend) => {
  let root: string;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let url: string | undefined;
  const outputs: string[] = [];

  const cli = (args: string[], input?: string, extra: NodeJS.ProcessEnv = {}): CliResult => {
    const r = standin(home, args, input, { ...env, ...extra });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const ok = (args: string[], input?: string): string => {
    const r = cli(args, input);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const fails = (code: number, args: string[], extra: NodeJS.ProcessEnv = {}): string => {
    const r = cli(args, undefined, extra);
    expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(code);
    expect(r.stderr).toMatch(/^standin: [^\n]+\n$/);
    return r.stderr;
  };
  const json = <T>(text: string): T => JSON.parse(text) as T;

  beforeAll(async () => {
    await backend.setup();
    root = mkdtempSync(join(tmpdir(), `standin-cli-${backend.name}-`));
    home = join(root, 'home');
    url = backend.name === 'postgres' ? backend.cluster()?.createDatabase() : undefined;
    env = url === undefined ? {} : { STANDIN_DATABASE_URL: url };
    const out = ok(['init']);
    if (url !== undefined) expect(out).toMatch(/database postgres:\/\/standin_test:\*\*\*@127\.0\.0\.1:\d+\/\w+ is up to date/);
  }, 120_000);
  afterAll(() => {
    backend.teardown();
    removeHome(root);
  });

  it('secrets: create, list, show, rotate, rollback, delete', () => {
    expect(ok(['secret', 'create', 'OpenAI', '--hosts', 'api.openai.com', '--value-stdin'], PLANTED)).toBe('created secret OpenAI (version 1, scheme bearer, hosts api.openai.com)\n');
    fails(2, ['secret', 'create', 'openai', '--hosts', 'api.openai.com', '--value-env', 'NOPE']);
    expect(json<{ name: string }[]>(ok(['secret', 'list', '--json'])).map((s) => s.name)).toEqual(['OpenAI']);
    expect(ok(['secret', 'rotate', 'openai', '--value-stdin'], ROTATED)).toBe('rotated secret openai to version 2 (kept: 1, 2)\n');
    expect(json<{ currentVersion: number; versions: number[] }>(ok(['secret', 'show', 'OPENAI', '--json']))).toMatchObject({ currentVersion: 2, versions: [1, 2] });
    expect(ok(['secret', 'rollback', 'openai'])).toBe('rolled back secret openai to version 1\n');
    expect(fails(2, ['secret', 'show', 'nope'])).toContain("no secret named 'nope'");
    ok(['secret', 'create', 'doomed', '--hosts', 'x.example', '--value-stdin'], 'doomed-value');
    expect(ok(['secret', 'delete', 'DOOMED'])).toBe('deleted secret doomed\n');
  });

  it('sandboxes: create with a binding, env, bind, unbind, list, delete', () => {
    const created = ok(['sandbox', 'create', 'agent', '--bind', 'OPENAI_API_KEY=openai', '--allow-host', 'api.openai.com', '--proxy', '127.0.0.1:18877', '--json']);
    const e = json<{ name: string; env: Record<string, string> }>(created).env;
    expect(e['OPENAI_API_KEY']).toMatch(/standin_/);
    expect(e['HTTPS_PROXY']).toMatch(/^http:\/\/agent:[0-9A-Za-z]{32}@127\.0\.0\.1:18877$/);
    const env2 = json<Record<string, string>>(ok(['sandbox', 'env', 'AGENT', '--format', 'json', '--proxy', '127.0.0.1:18877']));
    expect(env2['HTTPS_PROXY']).toBe(e['HTTPS_PROXY']);
    expect(env2['OPENAI_API_KEY']).toBe(e['OPENAI_API_KEY']);
    const bound = json<{ token: string }>(ok(['sandbox', 'bind', 'agent', 'SECOND=openai', '--json']));
    expect(bound.token).not.toBe(e['OPENAI_API_KEY']);
    expect(ok(['sandbox', 'unbind', 'agent', 'SECOND'])).toBe('unbound SECOND from sandbox agent\n');
    fails(2, ['sandbox', 'unbind', 'agent', 'SECOND']);
    const list = json<{ name: string; bindings: { env: string; secret: string }[] }[]>(ok(['sandbox', 'list', '--json']));
    expect(list).toEqual([expect.objectContaining({ name: 'agent', bindings: [{ env: 'OPENAI_API_KEY', secret: 'OpenAI' }] })]);
    ok(['sandbox', 'create', 'temp']);
    expect(ok(['sandbox', 'delete', 'TEMP'])).toBe('deleted sandbox temp\n');
  });

  it('tenants keep their names apart; --tenant picks the view', () => {
    expect(ok(['tenant', 'create', 'team-a'])).toContain('team-a');
    expect(json<{ name: string }[]>(ok(['tenant', 'list', '--json'])).map((t) => t.name)).toEqual(['default', 'team-a']);
    ok(['--tenant', 'team-a', 'secret', 'create', 'openai', '--hosts', 'api.openai.com', '--value-stdin'], 'team-a-value');
    expect(json<{ tenant: string }[]>(ok(['--tenant', 'team-a', 'secret', 'list', '--json'])).map((s) => s.tenant)).toEqual(['team-a']);
    expect(json<{ name: string }[]>(ok(['secret', 'list', '--json'])).map((s) => s.name)).toEqual(['OpenAI']);
    expect(fails(2, ['--tenant', 'nobody', 'secret', 'list'])).toContain("no tenant named 'nobody'");
  });

  it('API keys: create once, list, revoke', () => {
    const key = ok(['apikey', 'create', 'ops', '--role', 'operator']).trim();
    expect(key).toMatch(/^sak_[0-9a-f]{16}_[0-9A-Za-z]{40}$/);
    const keys = json<{ name: string; role: string; revokedAt: string | null }[]>(ok(['apikey', 'list', '--json']));
    expect(keys).toEqual([expect.objectContaining({ name: 'ops', role: 'operator', revokedAt: null })]);
    // Listing needs no master key (only hashes are stored): the key file moved away for one run.
    renameSync(join(home, 'master.key'), join(root, 'master.key.away'));
    try {
      expect(fails(1, ['secret', 'list'])).toMatch(/not initialised|master key/i);
      expect(json<{ name: string }[]>(ok(['apikey', 'list', '--json'])).map((k) => k.name)).toEqual(['ops']);
    } finally {
      renameSync(join(root, 'master.key.away'), join(home, 'master.key'));
    }
    expect(JSON.stringify(keys)).not.toContain(key);
    expect(ok(['apikey', 'revoke', 'OPS'])).toBe('revoked API key ops\n');
    fails(2, ['apikey', 'revoke', 'ops']);
  });

  it('audit: every change, filtered, without values', () => {
    const events = json<{ action: string; target: string; actor: string }[]>(ok(['audit', '--json']));
    const actions = events.map((e) => e.action);
    for (const a of ['secret.create', 'secret.rotate', 'secret.rollback', 'secret.delete', 'sandbox.create', 'sandbox.bind', 'sandbox.unbind', 'sandbox.delete', 'tenant.create', 'apikey.create', 'apikey.revoke']) {
      expect(actions).toContain(a);
    }
    expect(events.every((e) => e.actor.startsWith('cli:'))).toBe(true);
    expect(json<unknown[]>(ok(['audit', '--action', 'secret.*', '--target', 'openai', '--json']))).toHaveLength(3);
    expect(json<unknown[]>(ok(['--tenant', 'team-a', 'audit', '--json']))).toHaveLength(1);
  });

  it('export and import round-trip definitions (no values)', () => {
    const doc = ok(['export']);
    expect(doc).not.toContain(PLANTED);
    const file = join(root, 'defs.json');
    writeFileSync(file, doc);
    const other = json<{ sandboxes: { name: string }[] }>(doc);
    expect(other.sandboxes.map((s) => s.name)).toEqual(['agent']);
    // Everything exists already: nothing to do, complete.
    expect(json<{ complete: boolean; applied: boolean }>(ok(['import', file, '--json']))).toMatchObject({ complete: true, applied: true });
    ok(['sandbox', 'delete', 'agent']);
    expect(json<{ items: { kind: string }[] }>(ok(['import', file, '--dry-run', '--json'])).items.map((i) => i.kind)).toContain('sandbox-created');
    expect(json<unknown[]>(ok(['sandbox', 'list', '--json']))).toEqual([]);
    ok(['import', file]);
    expect(json<{ name: string }[]>(ok(['sandbox', 'list', '--json'])).map((s) => s.name)).toEqual(['agent']);
  });

  it('masterkey rotate re-encrypts everything; the next command reads with the new key', () => {
    const before = json<Record<string, string>>(ok(['sandbox', 'env', 'agent', '--format', 'json', '--proxy', '127.0.0.1:1']));
    expect(ok(['masterkey', 'rotate'])).toMatch(/re-encrypted 3 secret versions and 1 sandbox keys/);
    const after = json<Record<string, string>>(ok(['sandbox', 'env', 'agent', '--format', 'json', '--proxy', '127.0.0.1:1']));
    expect(after['HTTPS_PROXY']).toBe(before['HTTPS_PROXY']);
    expect(json<{ action: string }[]>(ok(['audit', '--action', 'masterkey.rotate', '--json']))).toHaveLength(1);
  });

  it('log --follow prints each row written meanwhile once, and SIGINT ends it with exit 0', async () => {
    const child = spawn(process.execPath, [CLI, 'log', '--follow', '--json'], { env: { ...process.env, ...env, STANDIN_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const db = url === undefined ? openDatabase(join(home, 'standin.db')) : undefined;
    const log = db !== undefined ? sqliteNetLog(db) : pgNetLog(url ?? '');
    const ids: string[] = [];
    try {
      const w = log.createWriter({ gatewayId: 'gw-follow' });
      // Written in three rounds while the follower runs.
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 2; i++) {
          const id = randomUUID();
          ids.push(id);
          w.record({ requestId: id, at: Date.now(), sandbox: 'agent', tenant: 'default', method: 'GET', scheme: 'https', host: 'api.example.com', port: 443, path: `/follow/${round}`, status: 200, decision: 'allowed', secrets: [], bytesIn: 1, bytesOut: 1, durationMs: 1, upstreamIp: null, errorCode: null });
        }
        await w.flush();
        await new Promise((r) => setTimeout(r, 400));
      }
      await w.close();
      const shown = (): string[] => out.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { requestId: string }).requestId);
      for (let i = 0; i < 100 && !ids.every((id) => shown().includes(id)); i++) await new Promise((r) => setTimeout(r, 100));
      child.kill('SIGINT');
      expect(await exited, err).toBe(0);
      expect(shown().filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await log.close();
      db?.close();
    }
  });

  it('a bad or unreachable database is one line, no password, non-zero exit', () => {
    expect(fails(2, ['secret', 'list'], { STANDIN_DATABASE_URL: 'mysql://u:hunter2secret@h/db' })).not.toContain('hunter2secret');
    expect(fails(2, ['--database', 'postgres://u:hunter2secret@[bad/db', 'secret', 'list'])).not.toContain('hunter2secret');
    const unreachable = fails(1, ['--database', 'postgresql://u:hunter2secret@127.0.0.1:1/db', 'secret', 'list']);
    expect(unreachable).toBe('standin: cannot use PostgreSQL at postgresql://u:***@127.0.0.1:1/db: connection refused\n');
    if (url !== undefined) {
      const wrong = fails(1, ['secret', 'list'], { STANDIN_DATABASE_URL: url.replace(/:[0-9a-f]+@/, ':not-the-password-42@') });
      expect(wrong).toMatch(/password authentication failed/);
      expect(wrong).not.toContain('not-the-password-42');
    }
  });

  it('never printed a value, and never stored one in clear', () => {
    for (const o of outputs) {
      expect(o).not.toContain(PLANTED);
      expect(o).not.toContain(ROTATED);
    }
    const pg = backend.cluster();
    if (url !== undefined && pg !== undefined) {
      const dbName = new URL(url).pathname.slice(1);
      const dump = pg.superSql(
        "SELECT string_agg(t::text, E'\\n') FROM (SELECT v::text AS t FROM secret_versions v UNION ALL SELECT a::text FROM audit a UNION ALL SELECT s::text FROM secrets s UNION ALL SELECT x::text FROM sandboxes x) q",
        dbName,
      );
      expect(dump.length).toBeGreaterThan(100);
      for (const p of [PLANTED, ROTATED]) {
        expect(dump).not.toContain(p);
        expect(dump).not.toContain(Buffer.from(p).toString('hex'));
      }
    }
  });
});

