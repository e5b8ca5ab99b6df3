import { findTokens } from '../../swap/find-tokens.js';
import type { Step } from '../pipeline.js';

/**
 * Every stand-in in what would be forwarded: header values (Basic credentials decoded) and query
 * parameters. Cookies, paths and bodies are not searched (a chat history quoting a token must not
 * break every later call); a scheme that places credentials there finds its own (Scheme.find).
 */
export const findStandIns: Step = {
  name: 'find stand-ins',
  run(flow) {
    flow.found = findTokens(flow.request.headers, flow.request.path);
  },
};
