import { UsageError } from '../errors.js';
import type { PlacementData, SchemeSpec } from '../model/secrets.js';
import { SCHEMES, type SchemeRegistry } from './schemes/registry.js';
import { printable, type CredentialRequest, type SampleRequest, type Scheme } from './schemes/scheme.js';
import type { FoundToken } from './types.js';

/**
 * The text form of a scheme, as given to `secret create --scheme` and shown by every listing:
 * `KIND[:ARG]` per placement (each kind's file in schemes/ owns its ARG), and `P1,P2,...` (or
 * repeated `--scheme` flags) for several placements: any one of them, per request.
 *
 *   bearer                          Authorization: Bearer <value>
 *   basic | basic:USER              Basic credentials (the token replaced, or USER:<value>)
 *   header:NAME[=TEXT{{value}}]     header NAME (the token replaced, or the template rendered)
 *   query:NAME                      query parameter NAME
 *   path                            a URL path segment (whole or part: /bot<value>/getMe)
 *   body:form:FIELD                 a urlencoded or multipart form field
 *   body:json:PATH                  a JSON string at a dotted path (auth.token, items.0.key)
 *   oauth2                          Bearer access token the gateway gets from the client's credentials
 *   sigv4                           AWS Signature V4, verified with the stand-in pair and re-signed
 */

const MULTI = 'multi';

/** Parses one `--scheme` value: a placement or a comma-separated list of them. */
export function parseSchemeSpec(raw: string, registry: SchemeRegistry = SCHEMES): SchemeSpec {
  return parseSchemeList([raw], registry);
}

/** Parses repeated `--scheme` values (each possibly a comma list) into one spec. */
export function parseSchemeList(raws: readonly string[], registry: SchemeRegistry = SCHEMES): SchemeSpec {
  const placements: PlacementData[] = [];
  for (const raw of raws) {
    for (const part of splitList(String(raw), registry)) {
      const p = parsePlacement(part, registry);
      if (placements.some((q) => samePlace(q, p, registry))) throw new UsageError(`scheme '${printable(formatPlacement(p, registry))}' is given twice`);
      placements.push(p);
    }
  }
  if (placements.length === 0) throw new UsageError(`a scheme is required: ${kindList(registry)}`);
  return combine(placements);
}

/** One placement alone, or a `multi` spec for several. */
export function combine(placements: readonly PlacementData[]): SchemeSpec {
  if (placements.length === 1 && placements[0] !== undefined) return placements[0];
  return { kind: MULTI, placements: [...placements] };
}

/** The placements of a spec, in order. */
export function placementsOf(spec: SchemeSpec): PlacementData[] {
  if (spec.kind !== MULTI) return [spec];
  const list = spec['placements'];
  return Array.isArray(list) ? list.filter(isPlacementData) : [];
}

export function formatSchemeSpec(spec: SchemeSpec, registry: SchemeRegistry = SCHEMES): string {
  return placementsOf(spec).map((p) => formatPlacement(p, registry)).join(',');
}

function formatPlacement(p: PlacementData, registry: SchemeRegistry): string {
  return registry.get(p.kind)?.format(p) ?? `${printable(p.kind)}?`;
}

/**
 * Checks a spec that did not come from text (the SDK, stored rows, presets) by each kind's own
 * rules and returns it in its canonical form; a UsageError when any placement is not valid.
 */
export function normalizeSchemeSpec(spec: SchemeSpec, registry: SchemeRegistry = SCHEMES): SchemeSpec {
  const raw = spec?.kind === MULTI ? placementsOf(spec) : [spec];
  const list = raw.map((p) => (isPlacementData(p) ? registry.get(p.kind)?.normalize(p) : undefined));
  if (list.length === 0 || list.some((p) => p === undefined)) {
    throw new UsageError(`invalid scheme: use ${kindList(registry)}, or a list of them`);
  }
  return combine(list as PlacementData[]);
}

/**
 * What applies a stored spec on the request path. A placement of an unknown kind, or one its kind
 * does not accept, accepts no token: a damaged row fails closed (GW_TOKEN_PLACEMENT), never open.
 */
export function schemeFor(spec: SchemeSpec, registry: SchemeRegistry = SCHEMES): Scheme {
  const schemes = placementsOf(spec).map((p) => {
    const def = registry.get(p.kind);
    const placement = def?.normalize(p);
    return def !== undefined && placement !== undefined ? def.create(placement) : NOWHERE;
  });
  return schemes.length === 1 && schemes[0] !== undefined ? schemes[0] : anyOf(schemes);
}

/** The sample request of the first placement that can make one (`sandbox check`); undefined if none can. */
export function sampleRequest(spec: SchemeSpec, token: string, registry: SchemeRegistry = SCHEMES): SampleRequest | undefined {
  for (const p of placementsOf(spec)) {
    const def = registry.get(p.kind);
    const placement = def?.normalize(p);
    if (def?.sample !== undefined && placement !== undefined) return def.sample(placement, token);
  }
  return undefined;
}

const NOWHERE: Scheme = { accepts: () => false, apply: () => [], describe: () => 'invalid scheme' };

/** Several placements: accepted where any accepts, applied by the first that does. */
function anyOf(schemes: readonly Scheme[]): Scheme {
  const first = (req: CredentialRequest, found: FoundToken): Scheme | undefined => schemes.find((s) => s.accepts(req, found));
  const bodyLimits = schemes.flatMap((s) => (s.needsBody === undefined ? [] : [s.needsBody]));
  return {
    accepts: (req, found) => first(req, found) !== undefined,
    apply: (req, found, value, ctx) => first(req, found)?.apply(req, found, value, ctx) ?? [],
    describe: () => schemes.map((s) => s.describe()).join(' | '),
    find: schemes.some((s) => s.find) ? (req) => schemes.flatMap((s) => s.find?.(req) ?? []) : undefined,
    needsBody: bodyLimits.length > 0 ? Math.max(...bodyLimits) : undefined,
    searches: [...new Set(schemes.flatMap((s) => s.searches ?? []))],
    wantsBody: schemes.some((s) => s.wantsBody) ? (req) => schemes.some((s) => s.wantsBody?.(req) === true) : undefined,
    knownForms: (value, standIn) => schemes.flatMap((s) => s.knownForms?.(value, standIn) ?? []),
  };
}

function parsePlacement(raw: string, registry: SchemeRegistry): PlacementData {
  const s = raw.trim();
  if (s === '') throw new UsageError(`empty scheme: use ${kindList(registry)}`);
  const colon = s.indexOf(':');
  const kind = (colon < 0 ? s : s.slice(0, colon)).trim().toLowerCase();
  const def = registry.get(kind);
  if (def === undefined || kind === MULTI) throw new UsageError(`unknown scheme '${printable(s)}': use ${kindList(registry)}`);
  return def.parse(colon < 0 ? undefined : s.slice(colon + 1), s);
}

function samePlace(a: PlacementData, b: PlacementData, registry: SchemeRegistry): boolean {
  return a.kind === b.kind && (registry.get(a.kind)?.samePlace(a, b) ?? true);
}

// Commas separate placements, but an argument may contain one (a header template): a piece that
// does not start with a known kind belongs to the piece before it.
function splitList(raw: string, registry: SchemeRegistry): string[] {
  const out: string[] = [];
  for (const piece of raw.split(',')) {
    const last = out.length - 1;
    const kind = /^\s*([A-Za-z0-9-]+)\s*(?::|$)/.exec(piece)?.[1]?.toLowerCase();
    if (last >= 0 && (kind === undefined || !registry.has(kind)) && piece.trim() !== '' && out[last]?.includes('=') === true) {
      out[last] = `${out[last]},${piece}`;
    } else {
      out.push(piece);
    }
  }
  return out;
}

function kindList(registry: SchemeRegistry): string {
  const kinds = [...registry.keys()];
  return `${kinds.slice(0, -1).join(', ')} or ${kinds[kinds.length - 1] ?? ''}`.replace(/^ or /, '');
}

function isPlacementData(p: unknown): p is PlacementData {
  return typeof p === 'object' && p !== null && typeof (p as { kind?: unknown }).kind === 'string';
}
