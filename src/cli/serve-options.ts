import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { isGatewayId } from '../config/gateway-id.js';
import { errnoCode } from '../config/home.js';
import { parseControlAddress, type ControlAddress } from '../control/address.js';
import { UsageError } from '../errors.js';
import { parseAllowDest } from '../policy/address.js';
import { parseResolveOverride } from '../policy/resolve.js';
import type { AllowDest } from '../policy/types.js';
import { UsageProblems } from './errors.js';

/** `standin serve` flags as commander hands them over (strings, repeatable ones as lists). */
export interface RawServeOptions {
  listen: string;
  /** An address, `false` for --no-control, undefined for the default socket in the home. */
  control?: string | false;
  config?: string;
  upstreamCa: string[];
  resolve: string[];
  allowDest: string[];
  logLevel: string;
  upstreamSocketsPerHost?: string;
  scrubUnboundHours?: string;
  /** `--no-http2` sets false. */
  http2?: boolean;
  maxBodyBytes?: string;
  workers?: string;
  gatewayId?: string;
  dbStaleSeconds?: string;
  logSpoolBytes?: string;
}

export interface ServeOptions {
  listen: { host: string; port: number };
  upstreamCa: string[]; // PEM texts
  resolve: Map<string, string>;
  allowDest: AllowDest[];
  logLevel: string;
  /** undefined: the default unix socket in the home; null: no control API. */
  control: ControlAddress | null | undefined;
  /** Concurrent upstream sockets per sandbox and host; undefined: the gateway's default. */
  upstreamSocketsPerHost: number | undefined;
  /** Hours an unbound secret's values are still scrubbed for its sandbox; undefined: the default. */
  scrubUnboundHours: number | undefined;
  /** Offer HTTP/2 to sandboxes. */
  http2: boolean;
  /** Largest request body read whole for a body or signing scheme; undefined: 1 MiB. */
  maxBodyBytes: number | undefined;
  /** Proxy worker processes; 1 is a single process (no primary). Default: the number of cores. */
  workers: number;
  /** The id this gateway's network-log rows carry; undefined: $STANDIN_GATEWAY_ID, else the home's. */
  gatewayId: string | undefined;
  /** On PostgreSQL: seconds the snapshot may go unconfirmed before swaps are refused; undefined: 30. */
  dbStaleSeconds: number | undefined;
  /** On PostgreSQL: the bound of the on-disk network-log spool in bytes; undefined: 1 GiB. */
  logSpoolBytes: number | undefined;
}

/** Keys of a `serve --config FILE` (JSON), each equivalent to the flag of the same name. */
const CONFIG_KEYS = ['listen', 'control', 'upstreamCa', 'resolve', 'allowDest', 'logLevel', 'upstreamSocketsPerHost', 'scrubUnboundHours', 'maxBodyBytes', 'workers', 'gatewayId', 'dbStaleSeconds', 'logSpoolBytes'] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];
const LIST_KEYS: readonly ConfigKey[] = ['upstreamCa', 'resolve', 'allowDest'];
const MAX_CONFIG_BYTES = 1024 * 1024;

export const DEFAULT_LISTEN = '127.0.0.1:8877';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Checks every flag before anything starts and reports all problems together, so that a long
 * command line is fixed in one go rather than one error per attempt.
 */
export function parseServeOptions(flags: RawServeOptions, fromCli: (key: ConfigKey) => boolean = () => true): ServeOptions {
  const problems: string[] = [];
  const raw = flags.config === undefined ? flags : mergeConfig(flags, readConfig(flags.config, problems), fromCli);
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      problems.push(e.message);
      return undefined;
    }
  };
  const listen = attempt(() => parseListen(raw.listen));
  const control = raw.control === false ? null : raw.control === undefined ? undefined : attempt(() => parseControlAddress(raw.control as string));
  if (control?.kind === 'tcp' && listen !== undefined && control.port !== 0 && control.port === listen.port) {
    problems.push(`--control cannot use the proxy's port ${listen.port}`);
  }
  const upstreamCa = raw.upstreamCa.map((f) => attempt(() => readCaFile(f)));
  const resolve = new Map<string, string>();
  for (const r of raw.resolve) {
    const pair = attempt(() => parseResolveOverride(r));
    if (pair !== undefined) resolve.set(pair[0], pair[1]);
  }
  const allowDest = raw.allowDest.map((a) => attempt(() => parseAllowDest(a)));
  if (!LOG_LEVELS.includes(raw.logLevel)) problems.push(`invalid --log-level '${raw.logLevel}': use ${LOG_LEVELS.join(', ')}`);
  const sockets = raw.upstreamSocketsPerHost;
  const upstreamSocketsPerHost = sockets === undefined ? undefined : Number(sockets);
  if (sockets !== undefined && !(/^\d{1,5}$/.test(String(sockets)) && upstreamSocketsPerHost !== undefined && upstreamSocketsPerHost >= 1 && upstreamSocketsPerHost <= 10_000)) {
    problems.push(`invalid --upstream-sockets-per-host '${printable(String(sockets))}': an integer from 1 to 10000`);
  }
  const hours = raw.scrubUnboundHours;
  const scrubUnboundHours = hours === undefined ? undefined : Number(hours);
  if (hours !== undefined && !(/^\d{1,4}$/.test(String(hours)) && scrubUnboundHours !== undefined && scrubUnboundHours <= 8760)) {
    problems.push(`invalid --scrub-unbound-hours '${printable(String(hours))}': an integer from 0 to 8760`);
  }
  const bodyRaw = raw.maxBodyBytes;
  const maxBodyBytes = bodyRaw === undefined ? undefined : Number(bodyRaw);
  if (bodyRaw !== undefined && !(/^\d{1,10}$/.test(String(bodyRaw)) && maxBodyBytes !== undefined && maxBodyBytes >= 1024 && maxBodyBytes <= 1024 ** 3)) {
    problems.push(`invalid --max-body-bytes '${printable(String(bodyRaw))}': an integer from 1024 to 1073741824`);
  }
  const workersRaw = raw.workers;
  const workers = workersRaw === undefined ? defaultWorkers() : Number(workersRaw);
  if (workersRaw !== undefined && !(/^\d{1,3}$/.test(String(workersRaw)) && workers >= 1 && workers <= MAX_WORKERS)) {
    problems.push(`invalid --workers '${printable(String(workersRaw))}': an integer from 1 to ${MAX_WORKERS}`);
  }
  if (raw.gatewayId !== undefined && !isGatewayId(raw.gatewayId)) {
    problems.push(`invalid --gateway-id '${printable(raw.gatewayId)}': 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  const staleRaw = raw.dbStaleSeconds;
  const dbStaleSeconds = staleRaw === undefined ? undefined : Number(staleRaw);
  if (staleRaw !== undefined && !(/^\d{1,5}$/.test(String(staleRaw)) && dbStaleSeconds !== undefined && dbStaleSeconds >= 1 && dbStaleSeconds <= 86_400)) {
    problems.push(`invalid --db-stale-seconds '${printable(String(staleRaw))}': an integer from 1 to 86400`);
  }
  const spoolRaw = raw.logSpoolBytes;
  const logSpoolBytes = spoolRaw === undefined ? undefined : Number(spoolRaw);
  if (spoolRaw !== undefined && !(/^\d{1,13}$/.test(String(spoolRaw)) && logSpoolBytes !== undefined && logSpoolBytes >= 1024 && logSpoolBytes <= 1024 ** 4)) {
    problems.push(`invalid --log-spool-bytes '${printable(String(spoolRaw))}': an integer from 1024 to 1099511627776`);
  }
  if (problems.length > 0 || listen === undefined) throw new UsageProblems(problems);
  return {
    listen,
    upstreamCa: upstreamCa.filter((p): p is string => p !== undefined),
    resolve,
    allowDest: allowDest.filter((a): a is AllowDest => a !== undefined),
    logLevel: raw.logLevel,
    control: control ?? (raw.control === false ? null : undefined),
    upstreamSocketsPerHost,
    scrubUnboundHours,
    http2: raw.http2 !== false,
    maxBodyBytes,
    workers,
    gatewayId: raw.gatewayId,
    dbStaleSeconds,
    logSpoolBytes,
  };
}

const MAX_WORKERS = 256;

/** One worker per core the process may run on (a cgroup or affinity limit counts), at most MAX_WORKERS. */
function defaultWorkers(): number {
  return Math.max(1, Math.min(MAX_WORKERS, availableParallelism()));
}

/**
 * `--config FILE`: one JSON object whose keys are the flags' (listen, control, upstreamCa,
 * resolve, allowDest, logLevel; `control: false` turns the control API off). Problems go into
 * `problems` with the flags' own, so a bad file and a bad flag are reported together.
 */
function readConfig(file: string, problems: string[]): Partial<Record<ConfigKey, unknown>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push(`cannot read --config ${file}: ${errnoCode(e) ?? 'unknown error'}`);
    return {};
  }
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    problems.push(`--config ${file} is larger than 1 MiB`);
    return {};
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    problems.push(`--config ${file} is not valid JSON`);
    return {};
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    problems.push(`--config ${file} must hold a JSON object`);
    return {};
  }
  const out: Partial<Record<ConfigKey, unknown>> = {};
  for (const [key, value] of Object.entries(doc)) {
    const k = CONFIG_KEYS.find((c) => c === key);
    if (k === undefined) {
      problems.push(`--config ${file}: unknown key '${printable(key)}' (use ${CONFIG_KEYS.join(', ')})`);
      continue;
    }
    const ok = LIST_KEYS.includes(k)
      ? Array.isArray(value) && value.every((v) => typeof v === 'string')
      : typeof value === 'string' || (k === 'control' && value === false);
    if (!ok) {
      problems.push(`--config ${file}: '${k}' must be ${LIST_KEYS.includes(k) ? 'a list of strings' : k === 'control' ? 'a string or false' : 'a string'}`);
      continue;
    }
    out[k] = value;
  }
  return out;
}

/** Flags given on the command line win over the file; the file wins over the flags' defaults. */
function mergeConfig(flags: RawServeOptions, config: Partial<Record<ConfigKey, unknown>>, fromCli: (key: ConfigKey) => boolean): RawServeOptions {
  const merged: RawServeOptions = { ...flags };
  for (const key of CONFIG_KEYS) {
    if (config[key] === undefined || fromCli(key)) continue;
    (merged as unknown as Record<string, unknown>)[key] = config[key];
  }
  return merged;
}

function printable(s: string): string {
  const p = s.replace(/[^\x20-\x7e]/g, '?');
  return p.length > 64 ? `${p.slice(0, 64)}...` : p;
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
