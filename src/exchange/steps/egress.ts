import { GatewayError } from '../../errors.js';
import { checkEgress } from '../../policy/egress.js';
import { matchesAnyPattern } from '../../policy/host-pattern.js';
import type { Flow } from '../flow.js';
import type { Step } from '../pipeline.js';

/**
 * The destination against the sandbox's egress policy. A tunnel's address was resolved and checked
 * at CONNECT (and is pinned for its life), so only the policy is checked again, as it may have
 * narrowed since; a plain-HTTP request names its destination itself and is checked whole here.
 */
export const egress: Step = {
  name: 'egress',
  run(flow) {
    if (flow.address !== undefined) {
      const { allowHosts } = flow.sandbox;
      if (allowHosts.length > 0 && !matchesAnyPattern(allowHosts, flow.input.target)) {
        throw new GatewayError('GW_EGRESS_DENIED', 'host outside the sandbox egress policy');
      }
      return undefined;
    }
    return checkPlain(flow);
  },
};

async function checkPlain(flow: Flow): Promise<void> {
  const address = await checkEgress(flow.sandbox, flow.input.target, 80, flow.deps.resolver, flow.deps.self);
  flow.address = address;
  flow.exchange.address = address;
}
