import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import type { HomePaths } from '../config/home.js';
import type { BindingInfo } from '../model/secrets.js';
import { awsStandInPair, secretEnvFor, SIGV4_TOKEN_PREFIX } from '../model/aws-key.js';

/**
 * The environment a sandbox runs with, in one place for `sandbox env`, `sandbox create` and `run`:
 * its stand-in tokens, the proxy (with its credential), an empty NO_PROXY so that an inherited one
 * cannot route around the gateway, and CA trust for the common clients, pointing at a bundle of
 * system roots plus the standin CA so that TLS the gateway does not touch still verifies.
 *
 * Node needs more: Node 20's fetch and node:http(s) ignore HTTPS_PROXY. NODE_USE_ENV_PROXY=1 makes
 * newer Node honour it, and NODE_OPTIONS preloads node-preload.cjs (written next to the CA bundle,
 * so a sidecar that gives the sandbox the bundle's directory gives it the preload too) for the rest.
 */
export const DEFAULT_PROXY = '127.0.0.1:8877';

// AWS_CA_BUNDLE: botocore (boto3, the AWS CLI) reads neither SSL_CERT_FILE nor REQUESTS_CA_BUNDLE.
// GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: grpcio (gRPC C-core) ignores SSL_CERT_FILE too.
const CA_VARS = ['SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'AWS_CA_BUNDLE', 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH'];
// grpc_proxy: read first by grpc-js and grpcio (lower case only; user:pass becomes Basic proxy auth).
const PROXY_VARS = ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy', 'grpc_proxy'];

/** The preload's file name, next to the CA bundle (in the home: `ca/`). */
export const NODE_PRELOAD_FILE = 'node-proxy-preload.cjs';

export interface SandboxEnvInput {
  sandbox: string;
  proxyKey: string;
  bindings: readonly Pick<BindingInfo, 'env' | 'token'>[];
  /** HOST:PORT of the gateway. */
  proxy: string;
  caBundle: string;
  /** The preload as the sandbox sees it; default: NODE_PRELOAD_FILE next to `caBundle`. */
  nodePreload?: string;
}

export function sandboxEnv(input: SandboxEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const b of [...input.bindings].sort((a, b) => a.env.localeCompare(b.env))) {
    if (b.token.startsWith(SIGV4_TOKEN_PREFIX)) {
      // A SigV4 binding: the client signs with a stand-in pair, never sees the token itself.
      const pair = awsStandInPair(b.token);
      env[b.env] = pair.accessKeyId;
      env[secretEnvFor(b.env)] = pair.secretAccessKey;
    } else {
      env[b.env] = b.token;
    }
  }
  const url = `http://${encodeURIComponent(input.sandbox)}:${encodeURIComponent(input.proxyKey)}@${input.proxy}`;
  for (const v of PROXY_VARS) env[v] = url;
  env['NO_PROXY'] = '';
  env['no_proxy'] = '';
  for (const v of CA_VARS) env[v] = input.caBundle;
  env['NODE_USE_ENV_PROXY'] = '1';
  // `--require=PATH`: no space, so the value needs no quoting in dotenv files that take none (docker --env-file).
  env['NODE_OPTIONS'] = `--require=${nodeOptionQuote(input.nodePreload ?? nodePreloadPath(input.caBundle))}`;
  return env;
}

export function nodePreloadPath(caBundle: string): string {
  return join(dirname(caBundle), NODE_PRELOAD_FILE);
}

/**
 * One NODE_OPTIONS argument. Node splits NODE_OPTIONS on spaces outside double quotes and takes
 * backslash escapes inside them, so a path with spaces or quotes is double-quoted and escaped.
 */
export function nodeOptionQuote(arg: string): string {
  if (/^[A-Za-z0-9_./:@%+,=-]+$/.test(arg)) return arg;
  return `"${arg.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The sandbox's NODE_OPTIONS in front of options already set (which stay: a program's own
 * `--require` then runs after the preload and may replace what it installed); not added twice.
 */
export function mergeNodeOptions(ours: string, existing: string | undefined): string {
  const rest = (existing ?? '').trim();
  if (rest === '') return ours;
  if (rest.includes(ours)) return rest;
  return `${ours} ${rest}`;
}

/**
 * `--proxy HOST:PORT`, else the address a running `serve` recorded in the home, else the default.
 * A record left by a gateway that died without cleaning up is ignored: its process is gone.
 */
export function resolveProxyAddress(paths: HomePaths, flag?: string): string {
  if (flag !== undefined) return checkProxyAddress(flag);
  try {
    const state: unknown = JSON.parse(readFileSync(paths.serveState, 'utf8'));
    if (typeof state === 'object' && state !== null && 'proxy' in state && 'pid' in state) {
      const { proxy, pid } = state;
      if (typeof proxy === 'string' && typeof pid === 'number' && isAlive(pid)) return checkProxyAddress(proxy);
    }
  } catch {
    // No gateway recorded (or an unreadable record): fall through to the default.
  }
  return DEFAULT_PROXY;
}

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export function checkProxyAddress(s: string): string {
  const m = HOST_PORT.exec(s.trim());
  const port = Number(m?.[1]);
  if (m === null || port < 1 || port > 65535) {
    throw new UsageError(`invalid --proxy '${s}': expected HOST:PORT, e.g. 127.0.0.1:8877`);
  }
  return s.trim();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else, which still means it is running.
    return typeof e === 'object' && e !== null && 'code' in e && e.code === 'EPERM';
  }
}

export type EnvFormat = 'shell' | 'dotenv' | 'json';

export function parseEnvFormat(s: string): EnvFormat {
  if (s === 'shell' || s === 'dotenv' || s === 'json') return s;
  throw new UsageError(`invalid --format '${s}': use shell, dotenv or json`);
}

export function formatEnv(env: Record<string, string>, format: EnvFormat): string {
  if (format === 'json') return `${JSON.stringify(env, null, 2)}\n`;
  const lines = Object.entries(env).map(([k, v]) => (format === 'shell' ? shellLine(k, v) : `${k}=${dotenvQuote(v)}`));
  return `${lines.join('\n')}\n`;
}

// Sourced into a shell, NODE_OPTIONS keeps what the shell already had (mergeNodeOptions' order).
function shellLine(k: string, v: string): string {
  if (k === 'NODE_OPTIONS') return `export ${k}=${shellQuote(v)}"\${NODE_OPTIONS:+ \$NODE_OPTIONS}"`;
  return `export ${k}=${shellQuote(v)}`;
}

/** POSIX single quotes: nothing inside is special; a quote is closed, escaped and reopened. */
export function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

// dotenv readers differ on escapes; bare values need none, single quotes are literal in all of them.
function dotenvQuote(v: string): string {
  if (/^[A-Za-z0-9_./:@%+,=-]*$/.test(v)) return v;
  if (!/['\n\r]/.test(v)) return `'${v}'`;
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '\\$').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}
