import { UsageError } from '../../errors.js';
import type { PlacementData } from '../../model/secrets.js';
import { printable, type SchemeDefinition } from './scheme.js';

/** A query parameter carrying the credential (`?key=<token>`); re-encoded after the swap. */
export interface QueryPlacement extends PlacementData {
  kind: 'query';
  param: string;
}

const QUERY_PARAM = /^[A-Za-z0-9._~-]{1,64}$/;

export const query: SchemeDefinition<QueryPlacement> = {
  kind: 'query',
  parse(arg, text) {
    if (arg === undefined || !QUERY_PARAM.test(arg)) throw new UsageError(`invalid query parameter name in scheme '${printable(text)}'`);
    return { kind: 'query', param: arg };
  },
  format: (p) => `query:${p.param}`,
  normalize(p) {
    const param = typeof p['param'] === 'string' ? p['param'].trim() : '';
    return QUERY_PARAM.test(param) ? { kind: 'query', param } : undefined;
  },
  samePlace: (a, b) => a.param === b.param,
  sample: (p, token) => ({ method: 'GET', path: `/?${encodeURIComponent(p.param)}=${token}`, headers: [] }),
  create: ({ param }) => ({
    accepts: (_req, found) => found.location.kind === 'query' && found.location.param === param,
    apply(req, found, value) {
      if (found.location.kind !== 'query') return [];
      const p = req.query[found.location.paramIndex];
      if (!p) return [];
      const rawName = p.raw.slice(0, Math.max(0, p.raw.indexOf('=')));
      const swapped = p.value.split(found.token).join(value);
      req.query[found.location.paramIndex] = { ...p, value: swapped, raw: `${rawName}=${encodeURIComponent(swapped)}` };
      return [{ real: encodeURIComponent(value), standIn: found.token }];
    },
    describe: () => `?${param}=[secret]`,
  }),
};
