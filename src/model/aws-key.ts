import { createHash } from 'node:crypto';

/**
 * The stand-in pair of a SigV4 binding. The binding keeps its ordinary stand-in token (what the
 * store looks up); the sandbox gets a pair derived from it: an access key id shaped like AWS's
 * (`AKIA` + 16 of base32's [A-Z2-7], which SDKs and tools check) and a 40-character secret. Both
 * are one-way functions of the token, so nothing new is stored, the gateway finds a key id's
 * token among the sandbox's own tokens, and knowing the key id (it travels in every request and
 * appears in upstream errors) tells nothing about the stand-in secret.
 *
 * The token of such a binding carries SIGV4_TOKEN_PREFIX, so `sandbox env` knows to export the
 * pair instead of the token (bindings-repo sets it for secrets with a sigv4 placement).
 */
export const SIGV4_TOKEN_PREFIX = 'sigv4-';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface AwsStandInPair {
  accessKeyId: string;
  secretAccessKey: string;
}

export function awsStandInPair(token: string): AwsStandInPair {
  const id = createHash('sha256').update(`standin aws access key id\u0000${token}`).digest();
  let base32 = '';
  for (let i = 0; i < 16; i++) base32 += BASE32[(id[i] ?? 0) % 32];
  const secret = createHash('sha256').update(`standin aws secret access key\u0000${token}`).digest().subarray(0, 30).toString('base64');
  return { accessKeyId: `AKIA${base32}`, secretAccessKey: secret };
}

/** An AWS access key id as SDKs write it (long-term AKIA, temporary ASIA). */
export function isAwsKeyId(s: string): boolean {
  return /^(?:AKIA|ASIA)[A-Z2-7]{16}$/.test(s);
}

/** The env name of the secret half: AWS_ACCESS_KEY_ID → AWS_SECRET_ACCESS_KEY, else NAME_SECRET. */
export function secretEnvFor(keyEnv: string): string {
  return keyEnv.endsWith('ACCESS_KEY_ID') ? `${keyEnv.slice(0, -'ACCESS_KEY_ID'.length)}SECRET_ACCESS_KEY` : `${keyEnv}_SECRET`;
}
