import { GatewayError } from '../../errors.js';
import { countHeader, headerValue } from '../../model/headers.js';
import type { TokenResolution } from '../../model/secrets.js';
import { matchesAnyPattern } from '../../policy/host-pattern.js';
import { bodyKind, findBodyTokens, type BodyKind } from '../../swap/body-fields.js';
import { placementsOf } from '../../swap/scheme-spec.js';
import { bodyFormatsOf } from '../../swap/schemes/body.js';
import type { Flow } from '../flow.js';
import { label } from './plan.js';

interface BodySecret {
  resolution: TokenResolution;
  formats: Set<'form' | 'json'>;
  inScope: boolean;
}

/**
 * Reads the request body for stand-ins, and only when the sandbox has a secret with a body
 * scheme (opt-in per secret: every other sandbox streams its bodies untouched, as before).
 *
 * - To a host of such a secret, a form or JSON body is read whole under the gateway's limit (over
 *   it: 413, nothing forwarded); its fields are searched. A body of another type (or one that does
 *   not parse as its type says) is read when its declared length fits, and refused (415) if it
 *   holds that secret's stand-in: the gateway cannot put the value in its place.
 * - To any other host, a form or JSON body of a declared length within the limit is searched too,
 *   so that a body-placed stand-in sent elsewhere is refused as token misuse like any other (plan).
 *   Larger or chunked bodies to other hosts stream unsearched: the check is a tripwire, not the
 *   boundary — a stand-in is worthless off its own sandbox's connection, and buffering every
 *   upload of such a sandbox would cost more than the signal is worth.
 */
export function findBodyStandIns(flow: Flow): Promise<void> | undefined {
  if (!flow.input.body.present) return undefined;
  const secrets = bodySecrets(flow);
  if (secrets.length === 0) return undefined;
  const kind = bodyKind(headerValue(flow.request.headers, 'content-type'));
  const limit = flow.deps.maxBodyBytes;
  const declared = declaredLength(flow);
  const inScope = secrets.filter((s) => s.inScope);
  const fits = declared !== undefined && declared <= limit;
  if (inScope.length > 0 && kind !== undefined) {
    const placing = inScope.filter((s) => s.formats.has(kind.format));
    if (declared !== undefined && declared > limit) refuse(flow, 'GW_BODY_TOO_LARGE', `body over ${limit} bytes`, placing);
    return read(flow, limit, kind, inScope, placing);
  }
  if (!fits || (inScope.length === 0 && kind === undefined)) return undefined;
  return read(flow, limit, kind, inScope, inScope);
}

async function read(flow: Flow, limit: number, kind: BodyKind | undefined, inScope: readonly BodySecret[], named: readonly BodySecret[]): Promise<void> {
  let body: Buffer;
  try {
    body = await flow.input.body.read(limit);
  } catch (e) {
    if (e instanceof GatewayError && e.code === 'GW_BODY_TOO_LARGE') refuse(flow, 'GW_BODY_TOO_LARGE', e.detail ?? 'body over the limit', named);
    throw e;
  }
  flow.request.body = body;
  const found = kind === undefined ? undefined : findBodyTokens(kind, body);
  // A stand-in of an in-scope body secret in a body its scheme cannot place into: refused, so it
  // never goes upstream in place of the credential the client meant to send.
  const format = found === undefined ? undefined : kind?.format;
  const misfits = inScope.filter((s) => format === undefined || !s.formats.has(format));
  if (misfits.length > 0) {
    const text = body.toString('latin1');
    const hits = misfits.filter((s) => text.includes(s.resolution.token));
    if (hits.length > 0) refuse(flow, 'GW_BODY_UNSUPPORTED', 'stand-in in a body its scheme does not read', hits);
  }
  if (found !== undefined) flow.found.push(...found);
}

function bodySecrets(flow: Flow): BodySecret[] {
  const { lookups } = flow.deps;
  const out: BodySecret[] = [];
  for (const token of lookups.tokensOfSandbox(flow.sandbox.id)) {
    const r = lookups.resolveToken(token);
    if (r === undefined || r.sandboxId !== flow.sandbox.id) continue;
    const formats = bodyFormatsOf(placementsOf(r.secret.scheme));
    if (formats.size > 0) out.push({ resolution: r, formats, inScope: matchesAnyPattern(r.secret.hosts, flow.input.target) });
  }
  return out;
}

// RFC 9112 §6.3: Content-Length gives the length only without Transfer-Encoding.
function declaredLength(flow: Flow): number | undefined {
  const head = flow.input.head.headers;
  if (countHeader(head, 'transfer-encoding') > 0) return undefined;
  const raw = headerValue(head, 'content-length');
  return raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
}

function refuse(flow: Flow, code: 'GW_BODY_TOO_LARGE' | 'GW_BODY_UNSUPPORTED', detail: string, culprits: readonly BodySecret[]): never {
  flow.exchange.secrets = [...new Set(culprits.map((s) => label(s.resolution)))];
  throw new GatewayError(code, detail);
}
