import type { HeaderList } from '../model/headers.js';
import type { QueryParam } from './find-tokens.js';

/**
 * What a SigV4-signed request says about its signature, read from `Authorization:
 * AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` (with X-Amz-Date) or from a
 * presigned URL's `X-Amz-*` query parameters. Only parsing here; the signatures are computed by
 * @smithy/signature-v4 (sigv4-signer.ts).
 */
export interface SigV4Auth {
  via: 'header' | 'query';
  accessKeyId: string;
  /** Credential scope parts: YYYYMMDD, region, service. */
  day: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  /** X-Amz-Date: YYYYMMDDTHHMMSSZ. */
  amzDate: string;
  /** Presigned only: X-Amz-Expires in seconds. */
  expires?: number;
}

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
const AUTH = /^AWS4-HMAC-SHA256[ ]+Credential=([^,\s]+)[ ]*,[ ]*SignedHeaders=([^,\s]+)[ ]*,[ ]*Signature=([0-9a-f]{64})[ ]*$/;
const CREDENTIAL = /^([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]{1,32})\/([a-z0-9-]{1,64})\/aws4_request$/;
const AMZ_DATE = /^(\d{8})T\d{6}Z$/;
const SIGNED_HEADERS = /^[a-z0-9!#$%&'*+.^_`|~-]+(?:;[a-z0-9!#$%&'*+.^_`|~-]+)*$/;

/** The key id of a credential string (`AKID/20260101/us-east-1/s3/aws4_request`). */
export function credentialKeyId(credential: string): string | undefined {
  return CREDENTIAL.exec(credential)?.[1];
}

export function isSigV4Authorization(value: string): boolean {
  return value.startsWith(`${SIGV4_ALGORITHM} `);
}

/** Header-signed: undefined when the header or X-Amz-Date does not parse. */
export function authFromHeaders(authorization: string, headers: HeaderList): SigV4Auth | undefined {
  const m = AUTH.exec(authorization.trim());
  const date = headers.filter(([n]) => n.toLowerCase() === 'x-amz-date');
  if (m === null || date.length !== 1) return undefined;
  return build('header', m[1] ?? '', m[2] ?? '', m[3] ?? '', date[0]?.[1].trim() ?? '');
}

/** Presigned: undefined when the X-Amz-* parameters are not exactly one complete set. */
export function authFromQuery(query: readonly QueryParam[]): SigV4Auth | undefined {
  const one = (name: string): string | undefined => {
    const found = query.filter((p) => p.name === name);
    return found.length === 1 ? found[0]?.value : undefined;
  };
  if (one('X-Amz-Algorithm') !== SIGV4_ALGORITHM) return undefined;
  const expires = one('X-Amz-Expires');
  if (expires === undefined || !/^\d{1,6}$/.test(expires)) return undefined;
  const signature = one('X-Amz-Signature') ?? '';
  if (!/^[0-9a-f]{64}$/.test(signature)) return undefined;
  const auth = build('query', one('X-Amz-Credential') ?? '', one('X-Amz-SignedHeaders') ?? '', signature, one('X-Amz-Date') ?? '');
  return auth === undefined ? undefined : { ...auth, expires: Number(expires) };
}

function build(via: 'header' | 'query', credential: string, signedHeaders: string, signature: string, amzDate: string): SigV4Auth | undefined {
  const c = CREDENTIAL.exec(credential);
  const d = AMZ_DATE.exec(amzDate);
  if (c === null || d === null || d[1] !== c[2] || !SIGNED_HEADERS.test(signedHeaders)) return undefined;
  return { via, accessKeyId: c[1] ?? '', day: c[2] ?? '', region: c[3] ?? '', service: c[4] ?? '', signedHeaders: signedHeaders.split(';'), signature, amzDate };
}

/** The X-Amz-Date as a Date (the signer takes the signing time as one). */
export function amzDateOf(auth: SigV4Auth): Date {
  const s = auth.amzDate;
  return new Date(Date.UTC(Number(s.slice(0, 4)), Number(s.slice(4, 6)) - 1, Number(s.slice(6, 8)), Number(s.slice(9, 11)), Number(s.slice(11, 13)), Number(s.slice(13, 15))));
}

/** `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`; undefined when it is not that shape. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export function parseAwsValue(value: string): AwsCredentials | undefined {
  const first = value.indexOf(':');
  const second = first < 0 ? -1 : value.indexOf(':', first + 1);
  if (first <= 0) return undefined;
  const accessKeyId = value.slice(0, first);
  const secretAccessKey = second < 0 ? value.slice(first + 1) : value.slice(first + 1, second);
  const sessionToken = second < 0 ? undefined : value.slice(second + 1);
  if (!/^[A-Z0-9]{16,128}$/.test(accessKeyId) || !/^[\x21-\x7e]{16,128}$/.test(secretAccessKey)) return undefined;
  if (sessionToken !== undefined && !/^[A-Za-z0-9+/=_-]{16,8192}$/.test(sessionToken)) return undefined;
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}
