import { UsageError } from '../errors.js';
import { parseHostHeader } from './target.js';
import type { Target } from '../model/target.js';

/**
 * Host patterns scope secrets and sandbox egress: `api.openai.com` (exactly that host),
 * `*.example.com` (one or more labels below example.com, never example.com itself), an IPv4 or
 * `[IPv6]` literal, each with an optional `:port` (443 when absent). They are parsed with the same
 * grammar as CONNECT targets, so a pattern and a target can only match when both canonicalise to
 * the same host; matching is then plain string comparison on label boundaries.
 */
export interface HostPattern {
  /** `exact`: host equals `host`; `subdomain`: host ends with `.` + `host`. */
  match: 'exact' | 'subdomain';
  /** Canonical host (IPv6 without brackets), or the parent domain of a wildcard. */
  host: string;
  kind: Target['kind'];
  port: number;
}

const DEFAULT_PORT = 443;

/** Parses one pattern; throws a one-line UsageError naming it. */
export function parseHostPattern(s: string): HostPattern {
  const text = s.trim();
  const wildcard = text.startsWith('*.');
  const target = parseHostHeader(wildcard ? text.slice(2) : text, DEFAULT_PORT);
  if (!target || (wildcard && target.kind !== 'name')) {
    throw new UsageError(
      `invalid host pattern ${JSON.stringify(s.slice(0, 100))}: expected host, *.domain, IPv4 or [IPv6], with an optional :port`,
    );
  }
  // `*.com` would scope a credential to a whole top-level domain: a wildcard needs a registrable
  // parent of at least two labels.
  if (wildcard && !target.host.includes('.')) {
    throw new UsageError(`host pattern ${JSON.stringify(s.slice(0, 100))} is too broad: use *.example.com, not *.com`);
  }
  return { match: wildcard ? 'subdomain' : 'exact', host: target.host, kind: target.kind, port: target.port };
}

/** Parses a pattern, or undefined when it is invalid (stored patterns fail closed: no match). */
export function tryParseHostPattern(s: string): HostPattern | undefined {
  try {
    return parseHostPattern(s);
  } catch {
    return undefined;
  }
}

export function patternMatches(p: HostPattern, target: Target): boolean {
  if (p.port !== target.port) return false;
  if (p.match === 'exact') return p.kind === target.kind && p.host === target.host;
  // Labels are never empty, so a suffix after a dot means at least one whole label below.
  return target.kind === 'name' && target.host.length > p.host.length + 1 && target.host.endsWith(`.${p.host}`);
}

/** Whether any pattern admits the target. Strings are parsed on the way; invalid ones never match. */
export function matchesAnyPattern(patterns: readonly string[] | readonly HostPattern[], target: Target): boolean {
  for (const p of patterns) {
    const parsed = typeof p === 'string' ? tryParseHostPattern(p) : p;
    if (parsed && patternMatches(parsed, target)) return true;
  }
  return false;
}

/**
 * A pre-parsed set for the hot path: exact patterns in a Set keyed by kind, host and port, wildcards in
 * a list (there are few). Invalid strings are dropped, so they never match.
 */
export class HostPatternSet {
  private readonly exact = new Set<string>();
  private readonly wildcards: HostPattern[] = [];

  constructor(patterns: Iterable<string | HostPattern>) {
    for (const p of patterns) {
      const parsed = typeof p === 'string' ? tryParseHostPattern(p) : p;
      if (!parsed) continue;
      if (parsed.match === 'exact') this.exact.add(key(parsed.kind, parsed.host, parsed.port));
      else this.wildcards.push(parsed);
    }
  }

  get size(): number {
    return this.exact.size + this.wildcards.length;
  }

  matches(target: Target): boolean {
    if (this.exact.has(key(target.kind, target.host, target.port))) return true;
    return this.wildcards.some((p) => patternMatches(p, target));
  }
}

function key(kind: Target['kind'], host: string, port: number): string {
  return `${kind}|${host}|${port}`;
}
