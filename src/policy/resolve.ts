import { lookup as dnsLookup } from 'node:dns/promises';
import { GatewayError, UsageError } from '../errors.js';
import { allowDestPermits, classifyAddress } from './address.js';
import { formatIp, parseIp } from './ip.js';
import { parseHost } from './target.js';
import type { CheckedAddress, Target } from '../model/target.js';
import type { ResolverOptions } from './types.js';

/**
 * Turns a parsed target into the one address the gateway will connect to. Every address DNS
 * returns is checked; the caller connects to the returned IP and never resolves the name again,
 * so a second answer (DNS rebinding) cannot change where the bytes go.
 */
export async function resolveTarget(target: Target, options: ResolverOptions): Promise<CheckedAddress> {
  const candidates = await candidatesFor(target, options);
  const refused: string[] = [];
  for (const address of candidates) {
    const ip = parseIp(address);
    if (!ip) {
      refused.push('unparseable');
      continue;
    }
    const canonical = formatIp(ip);
    const cls = classifyAddress(canonical);
    if (cls === 'public' || allowDestPermits(options.allowDest, canonical, target.port)) {
      return { address: canonical, family: ip.family };
    }
    refused.push(`${cls} ${canonical}`);
  }
  // The detail is for the operator's log: which kinds of address the name led to.
  throw new GatewayError('GW_PRIVATE_ADDRESS', `${target.host} resolves only to refused addresses (${refused.slice(0, 4).join(', ')})`);
}

async function candidatesFor(target: Target, options: ResolverOptions): Promise<string[]> {
  const override = options.overrides.get(target.host);
  if (override !== undefined) return [override];
  if (target.kind !== 'name') return [target.host];
  const lookup = options.lookup ?? defaultLookup;
  let answers: { address: string; family: number }[];
  try {
    answers = await lookup(target.host);
  } catch (e) {
    throw new GatewayError('GW_DNS_FAILED', `${target.host}: ${errorCode(e)}`);
  }
  if (answers.length === 0) throw new GatewayError('GW_DNS_FAILED', `${target.host}: no addresses`);
  return answers.map((a) => a.address);
}

function defaultLookup(host: string): Promise<{ address: string; family: number }[]> {
  // verbatim: keep the resolver's order; the check runs on every answer anyway.
  return dnsLookup(host, { all: true, verbatim: true });
}

// Only a resolver error code goes into the log detail, never another library's message.
function errorCode(e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? (e as { code: unknown }).code : undefined;
  return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'lookup failed';
}

/** `--resolve HOST=IP`: the host canonical by the target grammar, the IP canonical too. */
export function parseResolveOverride(s: string): [host: string, ip: string] {
  const fail = (): never => {
    throw new UsageError(`invalid --resolve ${JSON.stringify(s.slice(0, 100))}: expected HOST=IP`);
  };
  const eq = s.indexOf('=');
  if (eq < 0) fail();
  const host = parseHost(s.slice(0, eq)) ?? fail();
  if (host.kind !== 'name') fail();
  let ipText = s.slice(eq + 1);
  if (ipText.startsWith('[') && ipText.endsWith(']')) ipText = ipText.slice(1, -1);
  const ip = parseIp(ipText) ?? fail();
  return [host.host, formatIp(ip)];
}
