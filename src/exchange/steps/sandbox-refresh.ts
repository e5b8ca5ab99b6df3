import { GatewayError } from '../../errors.js';
import type { Step } from '../pipeline.js';

/**
 * The sandbox as it is now, not as it was when the tunnel opened: a deleted sandbox's open tunnels
 * stop working at its next request, and a narrowed policy applies to it (egress).
 */
export const sandboxRefresh: Step = {
  name: 'sandbox refresh',
  run(flow) {
    const sandbox = flow.deps.lookups.getSandboxById(flow.input.sandbox.id);
    if (!sandbox) throw new GatewayError('GW_PROXY_AUTH', 'sandbox no longer exists');
    flow.sandbox = sandbox;
  },
};
