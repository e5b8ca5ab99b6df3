import { randomBytes, randomInt } from 'node:crypto';

/** Opaque random row ids; never derived from a name, so renames and re-creations never collide. */
export function newId(prefix: 'sec' | 'sbx'): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const PROXY_KEY_LENGTH = 32;

/**
 * A sandbox's proxy credential: 32 base62 characters (~190 bits). Base62 so it can sit in the
 * userinfo of `HTTPS_PROXY=http://name:key@host:port` without any percent-encoding.
 */
export function newProxyKey(): string {
  let key = '';
  for (let i = 0; i < PROXY_KEY_LENGTH; i++) key += BASE62[randomInt(BASE62.length)];
  return key;
}
