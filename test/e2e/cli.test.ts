import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, standin, type CliResult } from '../helpers/serve.js';

// The built CLI against a fresh home, the way a user or a script runs it (`npm test` builds first).
const VALUES = {
  stdin: 'sk-PLANTED-stdin-4f1c9a7e2b',
  env: 'sk-PLANTED-env-8d3b6e0c5a',
  file: 'sk-PLANTED-file-2a7f4c9d1e',
  rotated: 'sk-PLANTED-rotated-6b2e8f3a0d',
};
let root: string;
let home: string;
const outputs: string[] = [];

function cli(args: string[], input?: string, env: NodeJS.ProcessEnv = {}): CliResult {
  const r = standin(home, args, input, env);
  outputs.push(r.stdout, r.stderr);
  return r;
}

function ok(args: string[], input?: string, env?: NodeJS.ProcessEnv): string {
  const r = cli(args, input, env);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Bad input: exit 2, nothing on stdout, exactly one line on stderr. */
function usageError(args: string[], input?: string, env?: NodeJS.ProcessEnv): string {
  const r = cli(args, input, env);
  expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^standin: [^\n]+\n$/);
  return r.stderr;
}

const mode = (p: string): number => statSync(p).mode & 0o777;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'standin-cli-'));
  home = join(root, 'home');
});
afterAll(() => removeHome(root));

describe('standin CLI', () => {
  it('init creates a private home and is idempotent', () => {
    const first = ok(['init']);
    expect(first).toContain(`initialised standin home at ${home}`);
    expect(first).toContain('master key');
    expect(mode(home)).toBe(0o700);
    expect(mode(join(home, 'master.key'))).toBe(0o600);
    expect(mode(join(home, 'ca'))).toBe(0o700);
    expect(mode(join(home, 'ca', 'ca-key.pem'))).toBe(0o600);
    const ca = readFileSync(join(home, 'ca', 'ca.pem'), 'utf8');
    const key = readFileSync(join(home, 'master.key'), 'utf8');
    expect(ok(['init'])).toBe(`standin home at ${home} is already initialised (nothing changed)\n`);
    expect(readFileSync(join(home, 'ca', 'ca.pem'), 'utf8')).toBe(ca);
    expect(readFileSync(join(home, 'master.key'), 'utf8')).toBe(key);
  });

  it('creates secrets from stdin, an env var and a file; never from argv', () => {
    expect(ok(['secret', 'create', 'openai', '--provider', 'openai', '--value-stdin'], `${VALUES.stdin}\n`)).toBe(
      'created secret openai (version 1, scheme bearer, hosts api.openai.com)\n',
    );
    ok(['secret', 'create', 'internal', '--hosts', 'api.internal.test,*.internal.test:8443', '--scheme', 'header:X-Api-Key', '--value-env', 'PLANTED'], undefined, { PLANTED: VALUES.env });
    const file = join(root, 'value.txt');
    writeFileSync(file, `${VALUES.file}\r\n`);
    ok(['secret', 'create', 'fromfile', '--hosts', 'files.test', '--value-file', file]);
    expect(usageError(['secret', 'create', 'argv', '--hosts', 'a.test', '--value', 'sk-typed'])).toContain("unknown option '--value'");
    expect(usageError(['secret', 'create', 'argv', '--hosts', 'a.test', '--value=sk-typed-inline'])).not.toContain('sk-typed-inline');
  });

  it('shows metadata only, in text and JSON', () => {
    const shown = JSON.parse(ok(['secret', 'show', 'internal', '--json'])) as Record<string, unknown>;
    expect(shown).toMatchObject({ name: 'internal', scheme: 'header:x-api-key', hosts: ['api.internal.test', '*.internal.test:8443'], currentVersion: 1, versions: [1] });
    const list = JSON.parse(ok(['secret', 'list', '--json'])) as { name: string }[];
    expect(list.map((s) => s.name).sort()).toEqual(['fromfile', 'internal', 'openai']);
    expect(ok(['secret', 'show', 'openai'])).toContain('provider:  openai');
  });

  it('rotates and rolls back', () => {
    expect(ok(['secret', 'rotate', 'fromfile', '--value-stdin'], VALUES.rotated)).toContain('version 2');
    expect(ok(['secret', 'rollback', 'fromfile'])).toContain('version 1');
  });

  it('answers --json on every command that changes something, as DESIGN lists it', () => {
    type Meta = { name: string; currentVersion: number; versions: number[] };
    const created = JSON.parse(ok(['secret', 'create', 'jsonsec', '--hosts', 'api.json.test', '--value-stdin', '--json'], 'json-REAL-1')) as Meta;
    expect(created).toMatchObject({ name: 'jsonsec', currentVersion: 1, versions: [1] });
    expect(JSON.parse(ok(['secret', 'rotate', 'jsonsec', '--value-stdin', '--json'], 'json-REAL-2'))).toMatchObject({ currentVersion: 2, versions: [1, 2] });
    expect(JSON.parse(ok(['secret', 'rollback', 'jsonsec', '--json']))).toMatchObject({ currentVersion: 1 });
    ok(['sandbox', 'create', 'jsonbox']);
    const bound = JSON.parse(ok(['sandbox', 'bind', 'jsonbox', 'K=jsonsec', '--json'])) as { token: string };
    expect(bound).toMatchObject({ sandbox: 'jsonbox', env: 'K', secret: 'jsonsec', token: expect.stringMatching(/^standin_/) });
    expect(JSON.parse(ok(['sandbox', 'unbind', 'jsonbox', 'K', '--json']))).toEqual({ sandbox: 'jsonbox', env: 'K', unbound: true });
    expect(JSON.parse(ok(['sandbox', 'delete', 'JSONBOX', '--json']))).toEqual({ name: 'jsonbox', deleted: true });
    const deleted = ok(['secret', 'delete', 'jsonsec', '--json']);
    expect(JSON.parse(deleted)).toEqual({ name: 'jsonsec', deleted: true });
    expect(deleted + JSON.stringify(created)).not.toMatch(/json-REAL/);
  });

  it('refuses bad input with exit 2 and one line', () => {
    expect(usageError(['secret', 'create', 'x', '--hosts', 'a.test', '--scheme', 'magic', '--value-env', 'HOME'])).toContain('unknown scheme');
    expect(usageError(['secret', 'create', 'x', '--hosts', 'bad host!', '--value-env', 'HOME'])).toContain('host');
    expect(usageError(['secret', 'create', 'OpenAI', '--hosts', 'a.test', '--value-stdin'], 'v')).toContain('already exists');
    expect(usageError(['secret', 'create', 'x', '--hosts', 'a.test'])).toContain('value source');
    expect(usageError(['secret', 'create', 'x', '--hosts', 'a.test', '--value-stdin', '--value-env', 'HOME'], 'v')).toContain('exactly one');
    expect(usageError(['secret', 'create', 'x', '--value-env', 'HOME'])).toContain('--hosts');
    expect(usageError(['secret', 'create', 'x', '--provider', 'nope', '--value-env', 'HOME'])).toContain('unknown provider');
    expect(usageError(['sandbox', 'create', 'bad', '--bind', 'KEY=missing'])).toContain("no secret named 'missing'");
    expect(usageError(['sandbox', 'create', 'bad', '--bind', 'novalue'])).toContain('ENV=SECRET');
    expect(usageError(['frobnicate'])).toContain("unknown command 'frobnicate'");
    expect(usageError(['log', '--bogus'])).toContain("unknown option '--bogus'");
    expect(usageError(['log', '--since', 'yesterday'])).toContain('--since');
    expect(usageError(['serve', '--control', 'tcp://x'])).toBe("standin: invalid --control 'tcp://x': expected unix:/PATH or HOST:PORT, e.g. 127.0.0.1:8878\n");
    const serve = cli(['serve', '--listen', 'nope', '--resolve', 'bad', '--log-level', 'loud']);
    expect(serve.code).toBe(2);
    expect(serve.stderr.trim().split('\n')).toHaveLength(3);
    expect(ok(['secret', 'list', '--json'])).not.toContain('"x"');
  });

  it('creates sandboxes and prints their environment in three formats', () => {
    const created = ok(['sandbox', 'create', 'agent', '--bind', 'OPENAI_API_KEY=openai', '--allow-host', 'api.openai.com', '--proxy', '127.0.0.1:9999']);
    expect(created).toMatch(/^export OPENAI_API_KEY='sk-standin_[A-Za-z0-9]{32}'$/m);
    ok(['sandbox', 'bind', 'agent', 'INTERNAL_KEY=internal']);
    const env = JSON.parse(ok(['sandbox', 'env', 'agent', '--format', 'json'])) as Record<string, string>;
    expect(env.OPENAI_API_KEY).toMatch(/^sk-standin_[A-Za-z0-9]{32}$/);
    expect(env.INTERNAL_KEY).toMatch(/^standin_[A-Za-z0-9]{32}$/);
    expect(env.HTTPS_PROXY).toMatch(/^http:\/\/agent:[^@:]+@127\.0\.0\.1:8877$/);
    for (const k of ['HTTP_PROXY', 'https_proxy', 'http_proxy']) expect(env[k]).toBe(env.HTTPS_PROXY);
    expect(env.NO_PROXY).toBe('');
    const bundle = readFileSync(env.SSL_CERT_FILE!, 'utf8');
    expect(bundle).toContain(ok(['ca', 'export']).trim());
    expect(bundle.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThan(1); // system roots too
    for (const k of ['NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO']) expect(env[k]).toBe(env.SSL_CERT_FILE);

    const shell = ok(['sandbox', 'env', 'agent']);
    expect(shell).toContain(`export HTTPS_PROXY='${env.HTTPS_PROXY}'`);
    expect(shell).toContain("export NO_PROXY=''");
    const dotenv = ok(['sandbox', 'env', 'agent', '--format', 'dotenv', '--proxy', '10.0.0.5:3128']);
    expect(dotenv).toMatch(/^HTTPS_PROXY=http:\/\/agent:[^@]+@10\.0\.0\.5:3128$/m);
    expect(dotenv).toContain(`INTERNAL_KEY=${env.INTERNAL_KEY}\n`);
    usageError(['sandbox', 'env', 'agent', '--format', 'xml']);

    const json = JSON.parse(ok(['sandbox', 'create', 'second', '--json'])) as { name: string; env: Record<string, string> };
    expect(json.name).toBe('second');
    expect(json.env.HTTPS_PROXY).toMatch(/^http:\/\/second:/);
    const list = JSON.parse(ok(['sandbox', 'list', '--json'])) as { name: string; bindings: unknown[] }[];
    expect(list.find((s) => s.name === 'agent')?.bindings).toHaveLength(2);
    ok(['sandbox', 'unbind', 'agent', 'INTERNAL_KEY']);
    ok(['sandbox', 'delete', 'second']);
  });

  it('ca export prints ca.pem (ending in a newline, as a terminal and `>` want)', () => {
    const exported = ok(['ca', 'export']);
    expect(exported.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
    expect(exported.trimEnd()).toBe(readFileSync(join(home, 'ca', 'ca.pem'), 'utf8').trimEnd());
  });

  it('log works on an empty log, in text and JSON', () => {
    expect(ok(['log'])).toContain('no matching requests');
    expect(ok(['log', '--json', '--sandbox', 'agent', '--since', '1h', '--limit', '5'])).toBe('');
  });

  it('run passes the sandbox env and the exit code, and withholds the master key and any control API key', () => {
    const env = JSON.parse(ok(['sandbox', 'env', 'agent', '--format', 'json'])) as Record<string, string>;
    // The key given the way a secret manager would give it: the command works, the child never sees it.
    const masterKey = readFileSync(join(home, 'master.key'), 'utf8').trim();
    const apiKey = 'sak_0123456789abcdef_0123456789012345678901234567890123456789';
    expect(ok(['run', 'agent', '--', 'sh', '-c', 'echo "$HTTPS_PROXY|$OPENAI_API_KEY|${STANDIN_MASTER_KEY:-none}|${STANDIN_API_KEY:-none}"'], undefined, { STANDIN_MASTER_KEY: masterKey, STANDIN_API_KEY: apiKey })).toBe(
      `${env.HTTPS_PROXY}|${env.OPENAI_API_KEY}|none|none\n`,
    );
    expect(cli(['run', 'agent', '--', 'sh', '-c', 'exit 7']).code).toBe(7);
    expect(cli(['run', 'agent', '--', 'sh', '-c', 'kill -TERM $$']).code).toBe(128 + 15);
    const missing = cli(['run', 'agent', '--', 'no-such-command-standin']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toBe('standin: command not found: no-such-command-standin\n');
  });

  it('audit lists the changes', () => {
    const events = JSON.parse(ok(['audit', '--json'])) as { action: string; actor: string }[];
    const actions = events.map((e) => e.action);
    for (const a of ['secret.create', 'secret.rotate', 'secret.rollback', 'sandbox.create', 'sandbox.bind', 'sandbox.unbind', 'sandbox.delete']) {
      expect(actions).toContain(a);
    }
    expect(events[0]?.actor).toMatch(/^cli:/);
  });

  it('no secret value appears in any output, the audit log or the database file', () => {
    const db = ['standin.db', 'standin.db-wal'].map((f) => {
      try {
        return readFileSync(join(home, f)).toString('latin1');
      } catch {
        return '';
      }
    });
    const everything = [...outputs, ...db].join('\n');
    expect(outputs.length).toBeGreaterThan(50);
    for (const v of Object.values(VALUES)) expect(everything).not.toContain(v);
  });
});

describe('output into a pipe that closes early', () => {
  it('ends quietly, with no stack trace, when the reader stops (standin ... | head)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join: joinPath } = await import('node:path');
    const home = mkdtempSync(joinPath(tmpdir(), 'standin-pipe-'));
    const cli = joinPath(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
    const r = spawnSync('sh', ['-c', `node ${cli} providers | true; node ${cli} providers --json | true`], { env: { ...process.env, STANDIN_HOME: home }, encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
  });
});
