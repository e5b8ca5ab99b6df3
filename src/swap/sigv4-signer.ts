import { timingSafeEqual } from 'node:crypto';
import { HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HeaderList } from '../model/headers.js';
import type { QueryParam } from './find-tokens.js';
import { amzDateOf, type AwsCredentials, type SigV4Auth } from './sigv4-auth.js';

/**
 * SigV4 signatures computed by @smithy/signature-v4 (the AWS SDK's own signer): the canonical
 * request, the signing key and the string to sign are never written here. This file only puts a
 * request into the signer's shape — exactly the headers the client signed, the client's date,
 * region and service — and reads the signature back out.
 */
export interface SignableRequest {
  method: string;
  /** The path as sent (already percent-encoded), without the query. */
  path: string;
  /** Decoded parameters, the signature's own ones left out by the caller where needed. */
  query: readonly QueryParam[];
  headers: HeaderList;
  /** The body, when its hash is not given in x-amz-content-sha256. */
  body?: Buffer;
}

/** The query parameters a presigned URL's signature consists of. */
export const AUTH_PARAMS: ReadonlySet<string> = new Set(['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token']);
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function signer(creds: AwsCredentials, auth: SigV4Auth): SignatureV4 {
  return new SignatureV4({
    credentials: creds,
    region: auth.region,
    service: auth.service,
    sha256: Hash.bind(null, 'sha256'),
    // S3 signs the path as sent; every other service encodes it once more (the SDKs agree).
    uriEscapePath: auth.service !== 's3',
    applyChecksum: false,
  });
}

function toQuery(params: readonly QueryParam[], skip: (name: string) => boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const p of params) {
    if (skip(p.name)) continue;
    const had = out[p.name];
    out[p.name] = had === undefined ? p.value : [...(Array.isArray(had) ? had : [had]), p.value];
  }
  return out;
}

/** The headers named in `names`, as one value each (repeats joined with ','), lower-cased names. */
function pick(headers: HeaderList, names: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, v] of headers) {
    const name = n.toLowerCase();
    if (!names.has(name)) continue;
    out[name] = out[name] === undefined ? v : `${out[name]},${v}`;
  }
  return out;
}

function httpRequest(req: SignableRequest, headers: Record<string, string>, query: Record<string, string | string[]>): HttpRequest {
  const host = headers['host'] ?? '';
  return new HttpRequest({ method: req.method, protocol: 'https:', hostname: host, path: req.path, query, headers, ...(req.body === undefined ? {} : { body: req.body }) });
}

/** The Authorization signature of a header-signed request, over the headers it names. */
export async function headerSignature(creds: AwsCredentials, auth: SigV4Auth, req: SignableRequest): Promise<{ authorization: string; securityToken?: string }> {
  const names = new Set(auth.signedHeaders);
  const headers = pick(req.headers, names);
  // The payload hash: the header's when it is there (signed or not), else the body's.
  const hash = req.headers.find(([n]) => n.toLowerCase() === 'x-amz-content-sha256')?.[1];
  if (hash !== undefined && !names.has('x-amz-content-sha256')) headers['x-amz-content-sha256'] = hash;
  const signed = await signer(creds, auth).sign(httpRequest(req, headers, toQuery(req.query, () => false)), {
    signingDate: amzDateOf(auth),
    signingRegion: auth.region,
    signingService: auth.service,
    signableHeaders: names,
    unsignableHeaders: names.has('x-amz-content-sha256') ? undefined : new Set(['x-amz-content-sha256']),
  });
  const authorization = String(signed.headers['authorization'] ?? '');
  const token = signed.headers['x-amz-security-token'];
  return token === undefined ? { authorization } : { authorization, securityToken: String(token) };
}

/** The query of a presigned URL signed with `creds`: every X-Amz-* auth parameter, signature last. */
export async function presignedQuery(creds: AwsCredentials, auth: SigV4Auth, req: SignableRequest): Promise<Record<string, string>> {
  const names = new Set(auth.signedHeaders);
  const headers = pick(req.headers, names);
  // S3 presigned URLs sign no payload; other services the empty one.
  headers['x-amz-content-sha256'] = auth.service === 's3' ? 'UNSIGNED-PAYLOAD' : EMPTY_SHA256;
  const keep = new Set([...names, 'x-amz-content-sha256']);
  const presigned = await signer(creds, auth).presign(httpRequest(req, headers, toQuery(req.query, (n) => AUTH_PARAMS.has(n))), {
    signingDate: amzDateOf(auth),
    expiresIn: auth.expires ?? 900,
    signingRegion: auth.region,
    signingService: auth.service,
    signableHeaders: names,
    unsignableHeaders: names.has('x-amz-content-sha256') ? undefined : new Set(['x-amz-content-sha256']),
    unhoistableHeaders: keep,
  });
  const out: Record<string, string> = {};
  for (const name of AUTH_PARAMS) {
    const v = presigned.query?.[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

/** The Signature= part of an Authorization value. */
export function signatureIn(authorization: string): string {
  return /Signature=([0-9a-f]{64})/.exec(authorization)?.[1] ?? '';
}

export function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * One aws-chunked chunk's signature, chained after `prior`: the SDK signer's event signing, whose
 * string to sign (AWS4-HMAC-SHA256-PAYLOAD, date, scope, prior signature, hash of no headers,
 * hash of the data) is exactly the one S3 defines for signed chunks.
 */
export async function chunkSignature(creds: AwsCredentials, auth: SigV4Auth, data: Buffer, prior: string): Promise<string> {
  return signer(creds, auth).sign(
    { headers: new Uint8Array(0), payload: data },
    { signingDate: amzDateOf(auth), priorSignature: prior, signingRegion: auth.region, signingService: auth.service },
  );
}
