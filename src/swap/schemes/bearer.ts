import { UsageError } from '../../errors.js';
import type { PlacementData } from '../../model/secrets.js';
import { headerAt, printable, setHeaderAt, type SchemeDefinition } from './scheme.js';

/** `Authorization: Bearer <token>`; `token <token>` is GitHub's older spelling of the same thing. */
export interface BearerPlacement extends PlacementData {
  kind: 'bearer';
}

const BEARER = /^(bearer|token)[ \t]+(\S+)[ \t]*$/i;

export const bearer: SchemeDefinition<BearerPlacement> = {
  kind: 'bearer',
  parse(arg, text) {
    if (arg !== undefined) throw new UsageError(`scheme bearer takes no argument: '${printable(text)}'`);
    return { kind: 'bearer' };
  },
  format: () => 'bearer',
  normalize: () => ({ kind: 'bearer' }),
  samePlace: () => true,
  sample: (_p, token) => ({ method: 'GET', path: '/', headers: [['Authorization', `Bearer ${token}`]] }),
  create: () => ({
    accepts(req, found) {
      if (found.location.kind !== 'header' || found.location.name !== 'authorization') return false;
      return BEARER.exec(headerAt(req, found.location.index))?.[2] === found.token;
    },
    apply(req, found, value) {
      if (found.location.kind !== 'header') return [];
      const m = BEARER.exec(headerAt(req, found.location.index));
      setHeaderAt(req, found.location.index, `${m?.[1] ?? 'Bearer'} ${value}`);
      return [];
    },
    describe: () => 'Authorization: Bearer [secret]',
  }),
};
