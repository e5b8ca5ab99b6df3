import { awsStandInPair, SIGV4_TOKEN_PREFIX } from '../../model/aws-key.js';
import { credentialKeyId, isSigV4Authorization } from '../../swap/sigv4-auth.js';
import type { FoundToken, TokenLocation } from '../../swap/types.js';
import type { Flow } from '../flow.js';

/**
 * Stand-in AWS key ids: the key id in `Authorization: AWS4-HMAC-SHA256 Credential=...` or in a
 * presigned URL's X-Amz-Credential, matched against the pairs of this sandbox's own SigV4
 * bindings only (a key id is honoured only on its own sandbox's connection, like any token).
 * Each match is found as the binding's token, at that place; the sigv4 scheme takes it from there.
 * A key id that is none of the sandbox's stand-ins is left alone (it is not a token). Legacy
 * SigV2 credentials (`Authorization: AWS KEY:SIG`, `?AWSAccessKeyId=`) with a stand-in key id are
 * found too, so that the request is refused (no SigV4 scheme accepts them) instead of forwarded.
 */
export function findAwsStandIns(flow: Flow): FoundToken[] {
  const candidates: { keyId: string; location: TokenLocation }[] = [];
  flow.request.headers.forEach(([name, value], index) => {
    if (name.toLowerCase() !== 'authorization') return;
    const credential = isSigV4Authorization(value) ? /Credential=([^,\s]+)/.exec(value)?.[1] : undefined;
    const keyId = credential === undefined ? /^AWS ([A-Z0-9]{16,128}):/.exec(value)?.[1] : credentialKeyId(credential);
    if (keyId !== undefined) candidates.push({ keyId, location: { kind: 'header', index, name: 'authorization' } });
  });
  flow.request.query.forEach((p, paramIndex) => {
    const keyId = p.name === 'X-Amz-Credential' ? credentialKeyId(p.value) : p.name === 'AWSAccessKeyId' ? p.value : undefined;
    if (keyId !== undefined) candidates.push({ keyId, location: { kind: 'query', param: p.name, paramIndex } });
  });
  if (candidates.length === 0) return [];
  const byKeyId = new Map<string, string>();
  for (const token of flow.deps.lookups.tokensOfSandbox(flow.sandbox.id)) {
    if (token.startsWith(SIGV4_TOKEN_PREFIX)) byKeyId.set(awsStandInPair(token).accessKeyId, token);
  }
  return candidates.flatMap((c) => {
    const token = byKeyId.get(c.keyId);
    return token === undefined ? [] : [{ token, location: c.location, malformed: false }];
  });
}
