import type { Scheme } from './scheme.js';

/** A query parameter carrying the credential (`?key=<token>`); re-encoded after the swap. */
export function queryScheme(spec: { param: string }): Scheme {
  return {
    accepts(_req, location) {
      return location.kind === 'query' && location.param === spec.param;
    },
    apply(req, location, token, value) {
      if (location.kind !== 'query') return [];
      const p = req.query[location.paramIndex];
      if (!p) return [];
      const rawName = p.raw.slice(0, Math.max(0, p.raw.indexOf('=')));
      const swapped = p.value.split(token).join(value);
      req.query[location.paramIndex] = { ...p, value: swapped, raw: `${rawName}=${encodeURIComponent(swapped)}` };
      return [{ real: encodeURIComponent(value), standIn: token }];
    },
    describe: () => `?${spec.param}=[secret]`,
  };
}
