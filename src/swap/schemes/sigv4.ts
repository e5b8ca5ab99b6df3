import { GatewayError, UsageError } from '../../errors.js';
import { headerValue, withoutHeader } from '../../model/headers.js';
import { awsStandInPair } from '../../model/aws-key.js';
import type { PlacementData } from '../../model/secrets.js';
import { authFromHeaders, authFromQuery, isSigV4Authorization, parseAwsValue, type AwsCredentials, type SigV4Auth } from '../sigv4-auth.js';
import { ChunkResigner } from '../sigv4-chunks.js';
import { AUTH_PARAMS, chunkSignature, headerSignature, presignedQuery, sameSignature, signatureIn, type SignableRequest } from '../sigv4-signer.js';
import { encodeQueryComponent } from '../sigv4-query.js';
import { headerAt, printable, type CredentialRequest, type SchemeDefinition } from './scheme.js';

/**
 * AWS Signature Version 4. The value is `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`; the
 * sandbox holds a stand-in pair (model/aws-key.ts) and signs with it. The gateway finds the
 * stand-in key id in the Authorization header or a presigned URL's X-Amz-Credential, checks
 * that the signature verifies with the stand-in secret (a request not signed by the holder of the
 * pair is refused), then signs the finished request again with the real pair, for the same
 * service, region and date and over the same headers, adding the session token when there is one.
 *
 * Payloads: UNSIGNED-PAYLOAD and a hash in x-amz-content-sha256 are signed as given (the
 * upstream checks the body against the hash); aws-chunked with the unsigned trailer
 * (STREAMING-UNSIGNED-PAYLOAD-TRAILER, the SDKs' default over HTTPS) streams untouched, as its
 * chunks carry no signature. Without x-amz-content-sha256 (most non-S3 services) the body is
 * read, bounded, to hash it. Signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) are checked and
 * re-signed one by one as the body streams (sigv4-chunks.ts); signed trailers are refused.
 */
export interface SigV4Placement extends PlacementData {
  kind: 'sigv4';
}

// Signed chunks with a signed trailer, and SigV4A's ECDSA chunks: refused (not re-signed yet).
const UNSUPPORTED_CHUNKS = /^STREAMING-(?:AWS4-HMAC-SHA256-PAYLOAD-TRAILER|AWS4-ECDSA-P256-SHA256-PAYLOAD.*)$/;
const SIGNED_CHUNKS = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
// What the sandbox reads instead of the real session token should a response echo it.
const SESSION_STAND_IN = '[standin-session-token]';

export const sigv4: SchemeDefinition<SigV4Placement> = {
  kind: 'sigv4',
  parse(arg, text) {
    if (arg !== undefined) throw new UsageError(`scheme sigv4 takes no argument (the value is ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]): '${printable(text)}'`);
    return { kind: 'sigv4' };
  },
  format: () => 'sigv4',
  normalize: () => ({ kind: 'sigv4' }),
  samePlace: () => true,
  create: () => ({
    accepts(req, found) {
      const l = found.location;
      if (l.kind === 'header') return l.name === 'authorization' && isSigV4Authorization(headerAt(req, l.index));
      return l.kind === 'query' && l.param === 'X-Amz-Credential';
    },
    wantsBody: (req) => headerValue(req.headers, 'x-amz-content-sha256') === undefined && authFromQuery(req.query) === undefined,
    async apply(req, found, value) {
      const real = parseAwsValue(value);
      if (real === undefined) throw new GatewayError('GW_SECRET_UNFIT', 'sigv4 value is not ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]');
      const standIn = awsStandInPair(found.token);
      const auth = found.location.kind === 'header' ? authFromHeaders(headerAt(req, found.location.index), req.headers) : authFromQuery(req.query);
      if (auth === undefined || auth.accessKeyId !== standIn.accessKeyId) throw new GatewayError('GW_SIGNATURE_INVALID', 'SigV4 fields do not parse');
      const hash = headerValue(req.headers, 'x-amz-content-sha256') ?? '';
      if (UNSUPPORTED_CHUNKS.test(hash)) throw new GatewayError('GW_BODY_UNSUPPORTED', 'signed aws-chunked trailers are not re-signed: use signed chunks without a trailer, or the unsigned trailer');
      await verify(auth, standIn, snapshot(req));
      let realSeed = '';
      if (hash === SIGNED_CHUNKS) {
        if (auth.via !== 'header') throw new GatewayError('GW_BODY_UNSUPPORTED', 'signed aws-chunked payloads need header signing');
        // Every chunk re-signed as the body streams, chained from the re-signed request's signature.
        req.transformBody(() => new ChunkResigner({
          standIn: (data, prior) => chunkSignature(standIn, auth, data, prior),
          real: (data, prior) => chunkSignature(real, auth, data, prior),
          standInSeed: auth.signature,
          realSeed: () => realSeed,
        }));
      }
      req.addSigner(async (final) => {
        realSeed = await resign(final, auth, real);
      });
      return [
        { real: real.accessKeyId, standIn: standIn.accessKeyId },
        { real: real.secretAccessKey, standIn: standIn.secretAccessKey },
        ...(real.sessionToken === undefined ? [] : [{ real: real.sessionToken, standIn: SESSION_STAND_IN }]),
      ];
    },
    describe: () => 'AWS SigV4 (re-signed with [secret])',
    knownForms(value, standIn) {
      const real = parseAwsValue(value);
      if (real === undefined) return [];
      const pair = awsStandInPair(standIn);
      return [{ real: real.accessKeyId, standIn: pair.accessKeyId }, { real: real.secretAccessKey, standIn: pair.secretAccessKey }];
    },
  }),
};

function snapshot(req: CredentialRequest): SignableRequest {
  const q = req.path.indexOf('?');
  return {
    method: req.method,
    path: q < 0 ? req.path : req.path.slice(0, q),
    query: req.query.map((p) => ({ ...p })),
    headers: req.headers.map(([n, v]) => [n, v]),
    ...(req.body === undefined ? {} : { body: req.body }),
  };
}

async function verify(auth: SigV4Auth, standIn: { accessKeyId: string; secretAccessKey: string }, req: SignableRequest): Promise<void> {
  const expected =
    auth.via === 'header' ? signatureIn((await headerSignature(standIn, auth, req)).authorization) : ((await presignedQuery(standIn, auth, req))['X-Amz-Signature'] ?? '');
  if (!sameSignature(expected, auth.signature)) throw new GatewayError('GW_SIGNATURE_INVALID', 'signature does not verify with the stand-in secret');
}

/** Runs last (signing step): the finished request signed with the real pair; its signature. */
async function resign(req: CredentialRequest, auth: SigV4Auth, real: AwsCredentials): Promise<string> {
  const base = snapshot(req);
  if (auth.via === 'header') {
    // Headers the client signed that header finishing removed (Expect) are signed no more.
    const present = new Set(req.headers.map(([n]) => n.toLowerCase()));
    const signedHeaders = auth.signedHeaders.filter((h) => present.has(h) && h !== 'x-amz-security-token');
    const headers = withoutHeader(withoutHeader(base.headers, 'authorization'), 'x-amz-security-token');
    const signed = await headerSignature(real, { ...auth, signedHeaders }, { ...base, headers });
    req.headers = [...headers, ['Authorization', signed.authorization], ...(signed.securityToken === undefined ? [] : [['X-Amz-Security-Token', signed.securityToken] as [string, string]])];
    return signatureIn(signed.authorization);
  }
  const params = await presignedQuery(real, { ...auth, signedHeaders: auth.signedHeaders }, base);
  const kept = req.query.filter((p) => !AUTH_PARAMS.has(p.name));
  const auth2 = Object.entries(params).map(([n, v]) => `${encodeQueryComponent(n)}=${encodeQueryComponent(v)}`);
  const query = [...kept.map((p) => p.raw), ...auth2].join('&');
  req.path = `${base.path}?${query}`;
  return params['X-Amz-Signature'] ?? '';
}
