import type { Step } from '../pipeline.js';

/**
 * Signatures over the finished request (a scheme that signs registers a signer when it places its
 * credential). Last, so that nothing changes the request after it is signed.
 */
export const signing: Step = {
  name: 'signing',
  run(flow) {
    if (flow.signers.length === 0) return undefined;
    return runSigners(flow);
  },
};

async function runSigners(flow: Parameters<typeof signing.run>[0]): Promise<void> {
  for (const sign of flow.signers) await sign(flow.request);
}
