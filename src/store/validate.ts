import { UsageError } from '../errors.js';
import type { SecretValue } from '../secret-value.js';
import { MAX_KEEP_VERSIONS, MIN_KEEP_VERSIONS } from './types.js';
import { toSchemeSpec, type SchemeSpec } from '../model/secrets.js';

/**
 * Input checks for the store. Each failure is one line naming the field; a secret value is never
 * part of a message (only its problem), and other input is echoed only in printable, short form.
 */
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;
const ENV = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_VALUE_BYTES = 16 * 1024;
// Values are written into HTTP headers: Node refuses control characters there (HTAB aside), and
// CR/LF would be header injection if anything let them through.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export type NameKind = 'secret' | 'sandbox';

export function checkName(kind: NameKind, name: string): string {
  const n = typeof name === 'string' ? name.trim() : '';
  if (!NAME.test(n)) {
    throw new UsageError(
      `invalid ${kind} name '${printable(n)}': use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return n;
}

export function checkEnv(env: string): string {
  if (typeof env !== 'string' || !ENV.test(env)) {
    throw new UsageError(`invalid environment variable name '${printable(String(env))}'`);
  }
  return env;
}

// Tenants and environments: short lower-case words, so they read the same everywhere they appear.
const LABEL = /^[a-z][a-z0-9-]{0,31}$/;

/** A tenant or environment name, lower-cased; `fallback` when not given. */
export function checkLabel(kind: 'tenant' | 'environment', value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (!LABEL.test(n)) {
    throw new UsageError(`invalid ${kind} name '${printable(String(value))}': use 1-32 lower-case letters, digits or '-', starting with a letter`);
  }
  return n;
}

/** Trims and lower-cases host patterns and drops duplicates; pattern syntax is policy/'s job. */
export function normalizeHosts(hosts: readonly string[], what: string, allowEmpty: boolean): string[] {
  if (!Array.isArray(hosts)) throw new UsageError(`${what} must be a list of hosts`);
  const out: string[] = [];
  for (const h of hosts) {
    const n = typeof h === 'string' ? h.trim().toLowerCase() : '';
    if (n === '') throw new UsageError(`${what} contains an empty host`);
    if (!out.includes(n)) out.push(n);
  }
  if (!allowEmpty && out.length === 0) throw new UsageError(`${what} needs at least one host`);
  return out;
}

export function checkValue(value: SecretValue): string {
  const v = value.expose();
  if (v.length === 0) throw new UsageError('secret value is empty');
  if (CONTROL.test(v)) {
    throw new UsageError('secret value contains a line break, NUL or other control character');
  }
  if (Buffer.byteLength(v, 'utf8') > MAX_VALUE_BYTES) {
    throw new UsageError(`secret value is longer than ${MAX_VALUE_BYTES / 1024} KiB`);
  }
  return v;
}

/**
 * Shape check only: the store keeps any scheme the registry (swap/schemes) made; callers check a
 * scheme's rules by its kind (normalizeSchemeSpec) before it gets here.
 */
export function checkScheme(spec: SchemeSpec): SchemeSpec {
  const checked = toSchemeSpec(spec);
  if (checked === undefined) throw invalidScheme();
  return checked;
}

function invalidScheme(): UsageError {
  return new UsageError('invalid scheme: use bearer, basic[:USER], header:NAME[=TEMPLATE], query:NAME, or a list of them');
}

/** Retention of a secret's versions: an integer in MIN_KEEP_VERSIONS..MAX_KEEP_VERSIONS. */
export function checkKeepVersions(n: number | undefined): number | undefined {
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < MIN_KEEP_VERSIONS || n > MAX_KEEP_VERSIONS) {
    throw new UsageError(`versions to keep must be an integer from ${MIN_KEEP_VERSIONS} to ${MAX_KEEP_VERSIONS}`);
  }
  return n;
}

export function checkProvider(provider: string | null | undefined): string | null {
  if (provider === undefined || provider === null) return null;
  const p = provider.trim();
  return p === '' ? null : p;
}

export function checkActor(actor: string): string {
  const a = typeof actor === 'string' ? actor.trim() : '';
  return a === '' ? 'unknown' : a;
}

/** For echoing user input in an error: printable ASCII, bounded length. */
export function printable(s: string): string {
  const p = s.replace(/[^\x20-\x7e]/g, '?');
  return p.length > 64 ? `${p.slice(0, 64)}...` : p;
}
