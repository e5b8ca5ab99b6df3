import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { errnoCode } from '../config/home.js';
import { UsageError } from '../errors.js';
import { parseAllowDest } from '../policy/address.js';
import { parseResolveOverride } from '../policy/resolve.js';
import type { AllowDest } from '../policy/types.js';
import { UsageProblems } from './errors.js';

/** `standin serve` flags as commander hands them over (strings, repeatable ones as lists). */
export interface RawServeOptions {
  listen: string;
  control?: string;
  upstreamCa: string[];
  resolve: string[];
  allowDest: string[];
  logLevel: string;
}

export interface ServeOptions {
  listen: { host: string; port: number };
  upstreamCa: string[]; // PEM texts
  resolve: Map<string, string>;
  allowDest: AllowDest[];
  logLevel: string;
}

export const DEFAULT_LISTEN = '127.0.0.1:8877';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Checks every flag before anything starts and reports all problems together, so that a long
 * command line is fixed in one go rather than one error per attempt.
 */
export function parseServeOptions(raw: RawServeOptions): ServeOptions {
  const problems: string[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      problems.push(e.message);
      return undefined;
    }
  };
  if (raw.control !== undefined) problems.push('--control is not available in this version');
  const listen = attempt(() => parseListen(raw.listen));
  const upstreamCa = raw.upstreamCa.map((f) => attempt(() => readCaFile(f)));
  const resolve = new Map<string, string>();
  for (const r of raw.resolve) {
    const pair = attempt(() => parseResolveOverride(r));
    if (pair !== undefined) resolve.set(pair[0], pair[1]);
  }
  const allowDest = raw.allowDest.map((a) => attempt(() => parseAllowDest(a)));
  if (!LOG_LEVELS.includes(raw.logLevel)) problems.push(`invalid --log-level '${raw.logLevel}': use ${LOG_LEVELS.join(', ')}`);
  if (problems.length > 0 || listen === undefined) throw new UsageProblems(problems);
  return {
    listen,
    upstreamCa: upstreamCa.filter((p): p is string => p !== undefined),
    resolve,
    allowDest: allowDest.filter((a): a is AllowDest => a !== undefined),
    logLevel: raw.logLevel,
  };
}

/** `HOST:PORT` with an IP literal (IPv6 in brackets) or `localhost`; port 0 picks a free one. */
export function parseListen(s: string): { host: string; port: number } {
  const fail = (): never => {
    throw new UsageError(`invalid --listen '${s}': expected HOST:PORT, e.g. ${DEFAULT_LISTEN}`);
  };
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s.trim()) ?? fail();
  const host = m[1] ?? m[2] ?? fail();
  const port = Number(m[3]);
  if (port > 65535) fail();
  if (m[1] !== undefined ? isIP(host) !== 6 : isIP(host) !== 4 && host.toLowerCase() !== 'localhost') fail();
  return { host: host.toLowerCase(), port };
}

/** `host:port` as a client writes it: IPv6 in brackets. */
export function formatListen(a: { host: string; port: number }): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function readCaFile(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --upstream-ca ${file}: ${errnoCode(e) ?? 'unknown error'}`);
  }
  try {
    // Parses the first certificate; a file of something else fails here, not at the first upstream.
    new X509Certificate(pem);
  } catch {
    throw new UsageError(`--upstream-ca ${file} is not a PEM certificate`);
  }
  return pem;
}
