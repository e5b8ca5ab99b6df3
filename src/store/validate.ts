import { UsageError } from '../errors.js';
import type { SecretValue } from '../secret-value.js';
import type { SchemeSpec } from './types.js';

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

/** Shape check only; swap/scheme-spec.ts owns the rules for which headers and params make sense. */
export function checkScheme(spec: SchemeSpec): SchemeSpec {
  switch (spec?.kind) {
    case 'bearer':
    case 'basic':
      return { kind: spec.kind };
    case 'header':
      if (typeof spec.header !== 'string' || spec.header.trim() === '') break;
      return { kind: 'header', header: spec.header.trim().toLowerCase() };
    case 'query':
      if (typeof spec.param !== 'string' || spec.param.trim() === '') break;
      return { kind: 'query', param: spec.param.trim() };
  }
  throw new UsageError('invalid scheme: use bearer, basic, header:NAME or query:NAME');
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
