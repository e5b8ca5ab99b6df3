import { GatewayError, UsageError } from '../../errors.js';
import type { PlacementData } from '../../model/secrets.js';
import { pathSegments } from '../find-tokens.js';
import { printable, type SchemeDefinition } from './scheme.js';

/**
 * The credential inside a URL path segment, whole (`/<token>/x`) or part of one (Telegram's
 * `/bot<token>/getMe`). The stand-in is replaced by the real value, percent-encoded as a segment
 * needs. A value that could change the shape of the URL (`/ ? #`, CR, LF) is refused rather than
 * escaped: an upstream that decodes before routing would see another path.
 */
export interface PathPlacement extends PlacementData {
  kind: 'path';
}

const UNFIT = /[/?#\r\n]/;

export const path: SchemeDefinition<PathPlacement> = {
  kind: 'path',
  parse(arg, text) {
    if (arg !== undefined) throw new UsageError(`scheme path takes no argument: '${printable(text)}'`);
    return { kind: 'path' };
  },
  format: () => 'path',
  normalize: () => ({ kind: 'path' }),
  samePlace: () => true,
  sample: (_p, token) => ({ method: 'GET', path: `/standin-check/${token}`, headers: [] }),
  create: () => ({
    searches: ['path'],
    accepts: (_req, found) => found.location.kind === 'path',
    apply(req, found, value) {
      if (found.location.kind !== 'path') return [];
      if (UNFIT.test(value)) throw new GatewayError('GW_SECRET_UNFIT', 'value has / ? # CR or LF: it cannot go in a path segment');
      const q = req.path.indexOf('?');
      const segments = pathSegments(req.path);
      const i = found.location.segment;
      const encoded = encodeSegment(value);
      segments[i] = (segments[i] ?? '').split(found.token).join(encoded);
      req.path = `${segments.join('/')}${q < 0 ? '' : req.path.slice(q)}`;
      return encoded === value ? [] : [{ real: encoded, standIn: found.token }];
    },
    describe: () => 'path segment [secret]',
  }),
};

/**
 * RFC 3986 pchar: unreserved, sub-delims, ':' and '@' stay; everything else is percent-encoded
 * (UTF-8). encodeURIComponent also escapes the sub-delims and ':' '@', which a segment may hold
 * as they are (Telegram's `123456:ABC` token keeps its colon).
 */
export function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(/%(24|26|2B|2C|3B|3D|3A|40)/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
