import { checkPlainRequest, checkTunnelRequest } from '../../policy/request-checks.js';
import type { Step } from '../pipeline.js';

/**
 * The request against its connection before anything else looks at it: version, method, origin
 * form, and inside a tunnel the Host (or :authority) naming exactly the CONNECT target.
 */
export const requestChecks: Step = {
  name: 'request checks',
  run(flow) {
    const { head, target } = flow.input;
    const { protocol } = flow.exchange;
    const refused = protocol === 'http' ? checkPlainRequest(head) : checkTunnelRequest(head, target, protocol === 'h2');
    if (refused) throw refused;
  },
};
