import { UsageError } from '../../errors.js';
import { headerValue } from '../../model/headers.js';
import type { PlacementData } from '../../model/secrets.js';
import { bodyKind, replaceInField } from '../body-fields.js';
import { printable, type SchemeDefinition } from './scheme.js';

/**
 * The credential in a request body field: `body:form:FIELD` (a urlencoded or multipart form
 * field) or `body:json:PATH` (a string at a dotted path, `auth.token`, `items.0.key`). Opt-in per
 * secret: only the hosts of a secret with a body scheme have their request bodies read, bounded
 * by the gateway's body limit (body-stand-ins.ts). The stand-in is replaced where it stands in the
 * field's value; the rest of the body is kept byte for byte, and Content-Length is recomputed.
 */
export interface BodyPlacement extends PlacementData {
  kind: 'body';
  format: 'form' | 'json';
  field: string;
}

// Printable ASCII without space or comma (a comma separates placements in the text form).
const FORM_FIELD = /^[\x21-\x2b\x2d-\x7e]{1,128}$/;
const JSON_PATH = /^[A-Za-z0-9_$-]{1,64}(?:\.[A-Za-z0-9_$-]{1,64}){0,15}$/;

function check(format: unknown, field: unknown): BodyPlacement | undefined {
  if (typeof field !== 'string') return undefined;
  if (format === 'form' && FORM_FIELD.test(field)) return { kind: 'body', format, field };
  if (format === 'json' && JSON_PATH.test(field)) return { kind: 'body', format, field };
  return undefined;
}

export const body: SchemeDefinition<BodyPlacement> = {
  kind: 'body',
  parse(arg, text) {
    const colon = (arg ?? '').indexOf(':');
    const format = colon < 0 ? arg : arg?.slice(0, colon).toLowerCase();
    const p = colon < 0 ? undefined : check(format, arg?.slice(colon + 1));
    if (p === undefined) {
      throw new UsageError(`invalid scheme '${printable(text)}': use body:form:FIELD or body:json:PATH (a dotted path such as auth.token)`);
    }
    return p;
  },
  format: (p) => `body:${p.format}:${p.field}`,
  normalize: (p) => check(p['format'], p['field']),
  samePlace: (a, b) => a.format === b.format && a.field === b.field,
  sample: (p, token) => {
    if (p.format === 'form') return { method: 'POST', path: '/', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: `${encodeURIComponent(p.field)}=${token}` };
    // A dotted path becomes nested objects: `auth.key` -> {"auth":{"key":"<token>"}}.
    const doc = p.field.split('.').reverse().reduce<unknown>((inner, key) => ({ [key]: inner }), token);
    return { method: 'POST', path: '/', headers: [['Content-Type', 'application/json']], body: JSON.stringify(doc) };
  },
  create: ({ format, field }) => ({
    searches: ['body'],
    // The body is read by the find step under the gateway's own limit; this only says "read it".
    needsBody: Number.MAX_SAFE_INTEGER,
    accepts: (_req, found) => found.location.kind === 'body' && found.location.format === format && found.location.field === field,
    apply(req, found, value) {
      const kind = bodyKind(headerValue(req.headers, 'content-type'));
      if (req.body === undefined || kind === undefined || kind.format !== format) return [];
      const replaced = replaceInField(kind, req.body, field, found.token, value);
      if (replaced === undefined) return [];
      req.body = replaced.body;
      return replaced.written === value ? [] : [{ real: replaced.written, standIn: found.token }];
    },
    describe: () => (format === 'form' ? `form field ${field}=[secret]` : `JSON ${field}: [secret]`),
  }),
};

/** The body formats a stored scheme places its credential in (empty: no body placement). */
export function bodyFormatsOf(placements: readonly PlacementData[]): Set<'form' | 'json'> {
  const out = new Set<'form' | 'json'>();
  for (const p of placements) {
    const b = p.kind === 'body' ? body.normalize(p) : undefined;
    if (b !== undefined) out.add(b.format);
  }
  return out;
}
