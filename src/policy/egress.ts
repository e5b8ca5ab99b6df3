import { GatewayError } from '../errors.js';
import type { SandboxInfo } from '../model/secrets.js';
import { matchesAnyPattern } from './host-pattern.js';
import { allowDestPermits, classifyAddress } from './address.js';
import { resolveTarget } from './resolve.js';
import type { CheckedAddress, Target } from '../model/target.js';
import type { ResolverOptions } from './types.js';

/**
 * The whole egress decision for one destination of one sandbox: its host policy, then the
 * address check on what DNS says, then the port. Returns the one address the gateway may connect
 * to; the caller never resolves again.
 *
 * Ports: 443 for tunnels and 80 for plain HTTP; any other port only when the sandbox's policy
 * names it (`--allow-host host:8443`) or `--allow-dest` lets that address and port through.
 */
export async function checkEgress(
  sandbox: SandboxInfo,
  target: Target,
  defaultPort: 443 | 80,
  resolver: ResolverOptions,
  self: SelfAddresses,
): Promise<CheckedAddress> {
  const policyNamesHost = sandbox.allowHosts.length > 0;
  if (policyNamesHost && !matchesAnyPattern(sandbox.allowHosts, target)) {
    throw new GatewayError('GW_EGRESS_DENIED', 'host outside the sandbox egress policy');
  }
  const checked = await resolveTarget(target, resolver);
  if (target.port !== defaultPort && !policyNamesHost && !allowDestPermits(resolver.allowDest, checked.address, target.port)) {
    throw new GatewayError('GW_PORT_DENIED', `port ${target.port} not allowed`);
  }
  if (isSelf(checked.address, target.port, self)) throw new GatewayError('GW_SELF_TARGET');
  return checked;
}

/** Where the gateway itself listens: never a destination, whatever `--allow-dest` says. */
export interface SelfAddresses {
  ports: ReadonlySet<number>;
  /** Addresses of this machine's interfaces (a wildcard listener answers on all of them). */
  addresses: ReadonlySet<string>;
}

function isSelf(address: string, port: number, self: SelfAddresses): boolean {
  if (!self.ports.has(port)) return false;
  const kind = classifyAddress(address);
  return kind === 'loopback' || kind === 'unspecified' || self.addresses.has(address);
}
