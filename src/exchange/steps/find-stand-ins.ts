import { findPathTokens, findTokens, redactPathSegments } from '../../swap/find-tokens.js';
import type { Step } from '../pipeline.js';
import { findAwsStandIns } from './aws-stand-ins.js';
import { findBodyStandIns } from './body-stand-ins.js';

/**
 * Every stand-in in what would be forwarded: header values (Basic credentials decoded) and query
 * parameters, and stand-in AWS key ids in SigV4 credentials (aws-stand-ins.ts). Cookies are never searched; the path and the body only as opt-in places: a token
 * there counts only for a secret whose scheme puts the credential there (plan.ts), anything else
 * is left alone (a chat history quoting a token must not break every later call). The body is
 * read only when the sandbox has a secret with a body scheme (body-stand-ins.ts).
 */
export const findStandIns: Step = {
  name: 'find stand-ins',
  run(flow) {
    const { path } = flow.request;
    flow.found = [...findTokens(flow.request.headers, path), ...findAwsStandIns(flow)];
    const inPath = findPathTokens(path);
    if (inPath.length > 0) {
      flow.found.push(...inPath);
      // The log shows the path the sandbox sent, with any segment holding a stand-in redacted.
      flow.exchange.setPath(redactPathSegments(path));
    }
    return findBodyStandIns(flow);
  },
};
