import { closeSync, openSync, readSync } from 'node:fs';
import { errnoCode } from '../config/home.js';
import { UsageError } from '../errors.js';
import { SecretValue } from '../secret-value.js';

/**
 * Where a secret value comes from: stdin, an environment variable, or a file. Never argv, which
 * any local user can read in `ps`. The plaintext is wrapped in a SecretValue as soon as it is read,
 * so that nothing downstream can print it by accident.
 */
export interface ValueSourceOptions {
  valueStdin?: boolean;
  valueEnv?: string;
  valueFile?: string;
}

// Far above any real credential; a bound so that `--value-file /dev/zero` is an error, not a hang.
const MAX_INPUT_BYTES = 64 * 1024;

/** Checks that exactly one source is given, before anything is read. */
export function checkValueSource(o: ValueSourceOptions): void {
  const given = [o.valueStdin === true, o.valueEnv !== undefined, o.valueFile !== undefined].filter(Boolean).length;
  if (given === 0) throw new UsageError('a value source is required: --value-stdin, --value-env VAR or --value-file FILE');
  if (given > 1) throw new UsageError('give exactly one of --value-stdin, --value-env, --value-file');
}

export async function readSecretValue(o: ValueSourceOptions, env: NodeJS.ProcessEnv = process.env): Promise<SecretValue> {
  checkValueSource(o);
  if (o.valueEnv !== undefined) {
    const v = env[o.valueEnv];
    if (v === undefined) throw new UsageError(`environment variable ${o.valueEnv} is not set`);
    return new SecretValue(v);
  }
  if (o.valueFile !== undefined) return new SecretValue(stripOneNewline(readValueFile(o.valueFile)));
  return new SecretValue(stripOneNewline(await readStdin()));
}

/** `echo value | standin ...` and editors add one final newline; it is never part of the value. */
export function stripOneNewline(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  if (s.endsWith('\n')) return s.slice(0, -1);
  return s;
}

function readValueFile(file: string): string {
  // Read at most one byte past the bound: a device or a huge file must not be slurped whole.
  const buf = Buffer.alloc(MAX_INPUT_BYTES + 1);
  let size = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    while (size < buf.length) {
      const n = readSync(fd, buf, size, buf.length - size, null);
      if (n === 0) break;
      size += n;
    }
  } catch (e) {
    throw new UsageError(`cannot read value file ${file}: ${errnoCode(e) ?? 'unknown error'}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (size > MAX_INPUT_BYTES) throw new UsageError(`value file ${file} is larger than 64 KiB`);
  return buf.subarray(0, size).toString('utf8');
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY === true) {
    // Reading a TTY would echo the value on screen; a pipe or redirect is the way to pass it.
    throw new UsageError('--value-stdin needs the value piped in, e.g. `printf %s "$KEY" | standin ...`');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > MAX_INPUT_BYTES) throw new UsageError('value on stdin is larger than 64 KiB');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}
