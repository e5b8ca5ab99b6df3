import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { RuntimeError, UsageError } from '../errors.js';

/**
 * The home directory holds everything standin keeps on disk: the database, the master key that
 * encrypts the secrets in it, and the CA. Everything in it is private to the user, so the
 * directory itself is created 0700.
 */
export interface HomePaths {
  home: string;
  db: string;
  masterKey: string;
  caDir: string;
  caCert: string;
  caKey: string;
  caBundle: string;
  serveState: string;
}

/** `--home` flag, then `STANDIN_HOME`, then `~/.standin`; always an absolute path. */
export function resolveHome(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = nonEmpty(flag) ?? nonEmpty(env['STANDIN_HOME']) ?? path.join(os.homedir(), '.standin');
  return path.resolve(expandTilde(chosen));
}

export function homePaths(home: string): HomePaths {
  const root = path.resolve(home);
  const caDir = path.join(root, 'ca');
  return {
    home: root,
    db: path.join(root, 'standin.db'),
    masterKey: path.join(root, 'master.key'),
    caDir,
    caCert: path.join(caDir, 'ca.pem'),
    caKey: path.join(caDir, 'ca-key.pem'),
    caBundle: path.join(caDir, 'bundle.pem'),
    serveState: path.join(root, 'serve.json'),
  };
}

/**
 * Creates the home directory (mode 0700) if it does not exist; returns whether it did. An existing
 * directory is left as it is: its permissions are the user's choice, and the files that matter
 * (master key, CA key) carry their own 0600 mode.
 */
export function ensureHomeDir(paths: HomePaths): boolean {
  try {
    const first = fs.mkdirSync(paths.home, { recursive: true, mode: 0o700 });
    if (first === undefined) {
      if (!fs.statSync(paths.home).isDirectory()) throw notADirectory(paths.home);
      return false;
    }
    // mkdir's mode is filtered by the umask; a restrictive result is what we want regardless.
    fs.chmodSync(paths.home, 0o700);
    return true;
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    if (errnoCode(e) === 'EEXIST' || errnoCode(e) === 'ENOTDIR') throw notADirectory(paths.home);
    throw new RuntimeError(`cannot create standin home ${paths.home}: ${errnoCode(e) ?? 'unknown error'}`);
  }
}

function notADirectory(home: string): RuntimeError {
  return new RuntimeError(`standin home ${home} exists and is not a directory`);
}

// Shells expand `~` in a flag, but not inside quotes or in an env file; accept it either way.
function expandTilde(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
  return p;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s !== undefined && s.trim() !== '' ? s.trim() : undefined;
}

export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

export interface MasterKey {
  key: Buffer;
  created: boolean;
  source: 'env' | 'file';
}

const KEY_BYTES = 32;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * The key that encrypts every stored secret. `STANDIN_MASTER_KEY` wins (for hosts where the key
 * lives in a secret manager, not on disk); otherwise `master.key` in the home, created on first use.
 */
export function loadOrCreateMasterKey(paths: HomePaths, env: NodeJS.ProcessEnv = process.env): MasterKey {
  const fromEnv = keyFromEnv(env);
  if (fromEnv !== undefined) return { key: fromEnv, created: false, source: 'env' };
  ensureHomeDir(paths);
  const key = randomBytes(KEY_BYTES);
  try {
    // 'wx' fails if the file exists, so two concurrent `init`s cannot overwrite each other's key.
    fs.writeFileSync(paths.masterKey, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return { key, created: true, source: 'file' };
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') {
      throw new RuntimeError(`cannot write master key ${paths.masterKey}: ${errnoCode(e) ?? 'unknown error'}`);
    }
  }
  return { key: readKeyFile(paths.masterKey), created: false, source: 'file' };
}

/** Like loadOrCreateMasterKey, but never creates: every command except `init` uses this. */
export function loadMasterKey(paths: HomePaths, env: NodeJS.ProcessEnv = process.env): MasterKey {
  const fromEnv = keyFromEnv(env);
  if (fromEnv !== undefined) return { key: fromEnv, created: false, source: 'env' };
  if (!fs.existsSync(paths.masterKey)) {
    throw new RuntimeError(`standin is not initialised at ${paths.home}: run \`standin init\``);
  }
  return { key: readKeyFile(paths.masterKey), created: false, source: 'file' };
}

// The messages below never include the key material, not even a wrong one.
function keyFromEnv(env: NodeJS.ProcessEnv): Buffer | undefined {
  const raw = env['STANDIN_MASTER_KEY']?.trim();
  if (raw === undefined || raw === '') return undefined;
  const key = decodeKey(raw);
  if (key === undefined) {
    throw new UsageError('STANDIN_MASTER_KEY must be 32 bytes, as base64 or 64 hex characters');
  }
  return key;
}

function readKeyFile(file: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new RuntimeError(`cannot read master key ${file}: ${errnoCode(e) ?? 'unknown error'}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new RuntimeError(`master key ${file} is not a regular file`);
    // POSIX permission bits mean nothing on Windows, where the check would always fail.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new RuntimeError(`master key ${file} is accessible by other users: run \`chmod 600 ${file}\``);
    }
    const key = decodeBase64Key(fs.readFileSync(fd, 'utf8').trim());
    if (key === undefined) throw new RuntimeError(`master key ${file} is corrupt: expected base64 of 32 bytes`);
    return key;
  } finally {
    fs.closeSync(fd);
  }
}

function decodeKey(raw: string): Buffer | undefined {
  if (HEX64.test(raw)) return Buffer.from(raw, 'hex');
  return decodeBase64Key(raw);
}

function decodeBase64Key(raw: string): Buffer | undefined {
  // Buffer.from(.., 'base64') silently skips junk, so check the alphabet first; accept base64url too.
  const normal = raw.replace(/-/g, '+').replace(/_/g, '/');
  if (!BASE64.test(normal)) return undefined;
  const key = Buffer.from(normal, 'base64');
  return key.length === KEY_BYTES ? key : undefined;
}
