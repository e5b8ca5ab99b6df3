import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode } from '../config/home.js';
import { RuntimeError, UsageError } from '../errors.js';

/**
 * The key file side of master key rotation. The new key is first written beside the old one
 * (`master.key.new`, 0600, fsynced), the database is re-encrypted, and only then is the file
 * renamed over `master.key` (atomic on POSIX) and the directory fsynced. A crash between the
 * commit and the rename leaves `master.key.new` holding the key the database is under; the next
 * `masterkey rotate` sees it and finishes the job.
 */
export function pendingKeyPath(keyFile: string): string {
  return `${keyFile}.new`;
}

export function writePendingKey(file: string, key: Buffer): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'wx', 0o600);
    fs.writeSync(fd, `${key.toString('base64')}\n`);
    fs.fsyncSync(fd);
  } catch (e) {
    throw new RuntimeError(`cannot write ${file}: ${errnoCode(e) ?? 'unknown error'}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function readPendingKey(file: string): Buffer | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw new RuntimeError(`cannot read ${file}: ${errnoCode(e) ?? 'unknown error'}`);
  }
  return decodeKey(text.trim());
}

/** Replaces `to` with `from` atomically and makes the rename durable. */
export function commitKeyFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
    const dir = fs.openSync(path.dirname(to), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  } catch (e) {
    throw new RuntimeError(`cannot replace ${to} with ${from}: ${errnoCode(e) ?? 'unknown error'} (the database is under the key in ${from}; move it into place)`);
  }
}

export function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** A key given in an environment variable: 32 bytes as base64 (or base64url) or 64 hex digits. */
export function keyFromEnvVar(name: string, env: NodeJS.ProcessEnv): Buffer {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`invalid environment variable name '${name.slice(0, 64)}'`);
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') throw new UsageError(`environment variable ${name} is not set`);
  const key = decodeKey(raw);
  if (key === undefined) throw new UsageError(`${name} must hold 32 bytes, as base64 or 64 hex characters`);
  return key;
}

function decodeKey(raw: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  const normal = raw.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(normal)) return undefined;
  const key = Buffer.from(normal, 'base64');
  return key.length === 32 ? key : undefined;
}
