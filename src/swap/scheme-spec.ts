import { UsageError } from '../errors.js';
import type { Placement, SchemeSpec } from '../model/secrets.js';

/**
 * The text form of a scheme, as given to `secret create --scheme` and shown by every listing:
 *
 *   bearer                          Authorization: Bearer <value>
 *   basic                           Basic credentials: the token is replaced where it stands
 *                                   (a `user:password` value replaces the whole pair)
 *   basic:USER                      Basic `USER:<value>`, whatever pair the sandbox sent
 *   header:NAME                     the token is replaced inside header NAME
 *   header:NAME=TEXT{{value}}TEXT   header NAME becomes the template rendered with the value
 *   query:NAME                      query parameter NAME
 *   P1,P2,...                       several placements: any one of them, per request
 *
 * A list may also be given as repeated `--scheme` flags (parseSchemeList).
 */

// RFC 9110 token characters: what a header name may be made of.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
const QUERY_PARAM = /^[A-Za-z0-9._~-]{1,64}$/;
// A Basic user-id: printable ASCII without ':' (RFC 7617).
const BASIC_USER = /^[\x21-\x39\x3b-\x7e]{1,64}$/;
// Template text: printable ASCII and spaces, written as is into a header value.
const TEMPLATE_TEXT = /^[\x20-\x7e]{0,200}$/;
export const VALUE_PLACEHOLDER = '{{value}}';
const KINDS = /^\s*(bearer|basic|header|query)\s*(?::|,|$)/i;

// Headers a scheme may not target: they control framing, routing or the proxy itself. Authorization
// is the place bearer and basic own; a template may still target it (`Authorization: Bot {{value}}`).
const FORBIDDEN_HEADERS = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te',
  'trailer', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'cookie',
]);

/** Parses one `--scheme` value: a placement or a comma-separated list of them. */
export function parseSchemeSpec(raw: string): SchemeSpec {
  return parseSchemeList([raw]);
}

/** Parses repeated `--scheme` values (each possibly a comma list) into one spec. */
export function parseSchemeList(raws: readonly string[]): SchemeSpec {
  const placements: Placement[] = [];
  for (const raw of raws) {
    for (const part of splitList(String(raw))) {
      const p = parsePlacement(part);
      const key = formatPlacement(p);
      if (placements.some((q) => samePlace(q, p))) throw new UsageError(`scheme '${printable(key)}' is given twice`);
      placements.push(p);
    }
  }
  if (placements.length === 0) throw new UsageError('a scheme is required: bearer, basic, header:NAME or query:NAME');
  return combine(placements);
}

/** One placement alone, or a `multi` spec for several. */
export function combine(placements: readonly Placement[]): SchemeSpec {
  if (placements.length === 1 && placements[0] !== undefined) return placements[0];
  return { kind: 'multi', placements: [...placements] };
}

/** The placements of a spec, in order. */
export function placementsOf(spec: SchemeSpec): Placement[] {
  return spec.kind === 'multi' ? [...spec.placements] : [spec];
}

export function formatSchemeSpec(spec: SchemeSpec): string {
  return placementsOf(spec).map(formatPlacement).join(',');
}

export function formatPlacement(p: Placement): string {
  switch (p.kind) {
    case 'bearer':
      return 'bearer';
    case 'basic':
      return p.user === undefined ? 'basic' : `basic:${p.user}`;
    case 'header':
      return p.template === undefined ? `header:${p.header}` : `header:${p.header}=${p.template}`;
    case 'query':
      return `query:${p.param}`;
  }
}

function parsePlacement(raw: string): Placement {
  const s = raw.trim();
  if (s === '') throw new UsageError('empty scheme: use bearer, basic[:USER], header:NAME[=TEMPLATE] or query:NAME');
  const colon = s.indexOf(':');
  const kind = (colon < 0 ? s : s.slice(0, colon)).trim().toLowerCase();
  const arg = colon < 0 ? undefined : s.slice(colon + 1);
  if (kind === 'bearer' && arg === undefined) return { kind: 'bearer' };
  if (kind === 'basic') {
    if (arg === undefined) return { kind: 'basic' };
    if (!BASIC_USER.test(arg)) throw new UsageError(`invalid Basic user in scheme '${printable(s)}': printable characters, no ':'`);
    return { kind: 'basic', user: arg };
  }
  if (kind === 'header') return parseHeader(s, arg ?? '');
  if (kind === 'query') {
    if (arg === undefined || !QUERY_PARAM.test(arg)) throw new UsageError(`invalid query parameter name in scheme '${printable(s)}'`);
    return { kind: 'query', param: arg };
  }
  throw new UsageError(`unknown scheme '${printable(s)}': use bearer, basic[:USER], header:NAME[=TEMPLATE] or query:NAME`);
}

function parseHeader(s: string, arg: string): Placement {
  const eq = arg.indexOf('=');
  const name = (eq < 0 ? arg : arg.slice(0, eq)).trim();
  if (!HEADER_NAME.test(name)) throw new UsageError(`invalid header name in scheme '${printable(s)}'`);
  const header = name.toLowerCase();
  if (FORBIDDEN_HEADERS.has(header) || header.startsWith('proxy-')) {
    throw new UsageError(`scheme header:${header} is not allowed`);
  }
  if (eq < 0) {
    if (header === 'authorization') {
      throw new UsageError('scheme header:authorization needs a template (header:authorization=Bot {{value}}), or use bearer or basic');
    }
    return { kind: 'header', header };
  }
  return { kind: 'header', header, template: checkTemplate(arg.slice(eq + 1), s) };
}

/** A template holds `{{value}}` exactly once, in printable text that can go in a header. */
export function checkTemplate(template: string, context: string): string {
  const parts = template.split(VALUE_PLACEHOLDER);
  if (parts.length !== 2) {
    throw new UsageError(`header template in scheme '${printable(context)}' must contain ${VALUE_PLACEHOLDER} exactly once`);
  }
  if (!TEMPLATE_TEXT.test(template.replace(VALUE_PLACEHOLDER, ''))) {
    throw new UsageError(`header template in scheme '${printable(context)}' must be printable ASCII, at most 200 characters`);
  }
  if (template.trim() !== template) throw new UsageError(`header template in scheme '${printable(context)}' has leading or trailing spaces`);
  return template;
}

export function renderTemplate(template: string, value: string): string {
  const i = template.indexOf(VALUE_PLACEHOLDER);
  return `${template.slice(0, i)}${value}${template.slice(i + VALUE_PLACEHOLDER.length)}`;
}

// Two placements that claim the same spot (same kind and header/param) cannot both apply.
function samePlace(a: Placement, b: Placement): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'header' && b.kind === 'header') return a.header === b.header;
  if (a.kind === 'query' && b.kind === 'query') return a.param === b.param;
  return true;
}

// Commas separate placements, but a template may contain one: a piece that does not start with a
// scheme kind belongs to the piece before it.
function splitList(raw: string): string[] {
  const out: string[] = [];
  for (const piece of raw.split(',')) {
    const last = out.length - 1;
    if (last >= 0 && !KINDS.test(piece) && out[last]?.trimStart().toLowerCase().startsWith('header:') === true && out[last]?.includes('=') === true) {
      out[last] = `${out[last]},${piece}`;
    } else {
      out.push(piece);
    }
  }
  return out;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
}
