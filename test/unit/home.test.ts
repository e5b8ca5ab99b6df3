import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeError, UsageError } from '../../src/errors.js';
import {
  ensureHomeDir,
  homePaths,
  loadMasterKey,
  loadOrCreateMasterKey,
  resolveHome,
  type HomePaths,
} from '../../src/config/home.js';

const posix = process.platform !== 'win32';
let tmp: string;
let paths: HomePaths;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-home-'));
  paths = homePaths(path.join(tmp, 'home'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const mode = (p: string): number => fs.statSync(p).mode & 0o777;

describe('resolveHome', () => {
  it('prefers the flag, then STANDIN_HOME, then ~/.standin', () => {
    expect(resolveHome('/a/b', { STANDIN_HOME: '/c' })).toBe(path.resolve('/a/b'));
    expect(resolveHome(undefined, { STANDIN_HOME: '/c' })).toBe(path.resolve('/c'));
    expect(resolveHome(undefined, {})).toBe(path.join(os.homedir(), '.standin'));
    expect(resolveHome('', { STANDIN_HOME: '' })).toBe(path.join(os.homedir(), '.standin'));
  });

  it('returns absolute paths and expands ~', () => {
    expect(path.isAbsolute(resolveHome('rel/dir', {}))).toBe(true);
    expect(resolveHome('~/x', {})).toBe(path.join(os.homedir(), 'x'));
  });

  it('lays out the home', () => {
    const p = homePaths('/h');
    expect(p).toEqual({
      home: path.resolve('/h'),
      db: path.resolve('/h/standin.db'),
      masterKey: path.resolve('/h/master.key'),
      caDir: path.resolve('/h/ca'),
      caCert: path.resolve('/h/ca/ca.pem'),
      caKey: path.resolve('/h/ca/ca-key.pem'),
      caBundle: path.resolve('/h/ca/bundle.pem'),
      serveState: path.resolve('/h/serve.json'),
    });
  });
});

describe('ensureHomeDir', () => {
  it('creates the home 0700 once', () => {
    expect(ensureHomeDir(paths)).toBe(true);
    if (posix) expect(mode(paths.home)).toBe(0o700);
    expect(ensureHomeDir(paths)).toBe(false);
  });

  it('refuses a home that is a file', () => {
    fs.writeFileSync(paths.home, 'x');
    expect(() => ensureHomeDir(paths)).toThrow(RuntimeError);
  });
});

describe('master key', () => {
  it('creates master.key 0600 with 32 random bytes, then reads the same key', () => {
    const first = loadOrCreateMasterKey(paths, {});
    expect(first.created).toBe(true);
    expect(first.source).toBe('file');
    expect(first.key.length).toBe(32);
    if (posix) {
      expect(mode(paths.masterKey)).toBe(0o600);
      expect(mode(paths.home)).toBe(0o700);
    }
    expect(Buffer.from(fs.readFileSync(paths.masterKey, 'utf8').trim(), 'base64').equals(first.key)).toBe(true);
    const again = loadOrCreateMasterKey(paths, {});
    expect(again.created).toBe(false);
    expect(again.key.equals(first.key)).toBe(true);
    expect(loadMasterKey(paths, {}).key.equals(first.key)).toBe(true);
  });

  it('loadMasterKey never creates and says to run init', () => {
    expect(() => loadMasterKey(paths, {})).toThrow(RuntimeError);
    expect(() => loadMasterKey(paths, {})).toThrow(/not initialised at .*run `standin init`/);
    expect(fs.existsSync(paths.masterKey)).toBe(false);
  });

  it.runIf(posix)('refuses a key file readable by group or others', () => {
    loadOrCreateMasterKey(paths, {});
    fs.chmodSync(paths.masterKey, 0o640);
    expect(() => loadMasterKey(paths, {})).toThrow(/chmod 600/);
    expect(() => loadOrCreateMasterKey(paths, {})).toThrow(RuntimeError);
  });

  it('refuses a corrupt key file', () => {
    ensureHomeDir(paths);
    fs.writeFileSync(paths.masterKey, Buffer.alloc(16).toString('base64'), { mode: 0o600 });
    expect(() => loadMasterKey(paths, {})).toThrow(/corrupt/);
    fs.writeFileSync(paths.masterKey, 'not base64 at all!', { mode: 0o600 });
    expect(() => loadMasterKey(paths, {})).toThrow(RuntimeError);
  });

  it('takes STANDIN_MASTER_KEY as base64 or hex, without touching the home', () => {
    const raw = Buffer.alloc(32, 7);
    const b64 = loadMasterKey(paths, { STANDIN_MASTER_KEY: raw.toString('base64') });
    expect(b64).toEqual({ key: raw, created: false, source: 'env' });
    const hex = loadOrCreateMasterKey(paths, { STANDIN_MASTER_KEY: raw.toString('hex') });
    expect(hex.key.equals(raw)).toBe(true);
    expect(hex.source).toBe('env');
    expect(fs.existsSync(paths.masterKey)).toBe(false);
  });

  it('rejects a bad STANDIN_MASTER_KEY with a UsageError that does not echo it', () => {
    const bad = [
      Buffer.alloc(16, 1).toString('base64'),
      Buffer.alloc(33, 1).toString('base64'),
      'a'.repeat(63),
      'zz-not*base64*SECRETISH',
    ];
    for (const value of bad) {
      let err: unknown;
      try {
        loadOrCreateMasterKey(paths, { STANDIN_MASTER_KEY: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).not.toContain(value);
      expect((err as Error).message).not.toContain('\n');
    }
    expect(fs.existsSync(paths.masterKey)).toBe(false);
  });
});
