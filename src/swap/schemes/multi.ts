import type { Scheme } from './scheme.js';

/**
 * Several placements for one credential (`bearer,basic:x-access-token` for GitHub's API and git):
 * a token is accepted where any placement accepts it, and applied by the first that does.
 */
export function multiScheme(schemes: readonly Scheme[]): Scheme {
  return {
    accepts(req, location, token) {
      return schemes.some((s) => s.accepts(req, location, token));
    },
    apply(req, location, token, value) {
      const s = schemes.find((x) => x.accepts(req, location, token));
      return s === undefined ? [] : s.apply(req, location, token, value);
    },
    describe: () => schemes.map((s) => s.describe()).join(' | '),
  };
}
