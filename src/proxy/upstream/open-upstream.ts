import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HeaderList } from '../../model/headers.js';
import { toRaw } from '../../model/headers.js';
import type { CheckedAddress, Target } from '../../model/target.js';
import type { SandboxAgents } from './sandbox-agents.js';

/** Where and for whom one request goes upstream. */
export interface UpstreamTarget {
  sandboxId: string;
  tls: boolean;
  target: Target;
  /** The address checked for the target: the only one ever connected to. */
  address: CheckedAddress;
}

/**
 * Opens the request upstream, pinned: to the checked address (never resolved again), the target's
 * port, SNI and certificate name of the CONNECT target (never a header's), on a connection that
 * belongs to this sandbox. Every protocol adapter goes out through here.
 */
export function openUpstream(
  agents: SandboxAgents,
  to: UpstreamTarget,
  head: { method: string; path: string; headers: HeaderList },
): ClientRequest {
  return (to.tls ? httpsRequest : httpRequest)({
    host: to.address.address,
    family: to.address.family,
    port: to.target.port,
    servername: to.tls && to.target.kind === 'name' ? to.target.host : undefined,
    method: head.method,
    path: head.path,
    headers: toRaw(head.headers),
    setHost: false,
    agent: agents.agentFor(to.sandboxId, to.tls),
  });
}
