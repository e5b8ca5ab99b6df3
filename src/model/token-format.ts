import { randomInt } from 'node:crypto';

/**
 * Shape of a stand-in token: an optional provider-shaped prefix (`sk-ant-`, `ghp_`) followed by the
 * core `standin_` + 32 base62 characters (~190 bits). The core alone identifies the token; the
 * prefix only exists so that client libraries which check a key's format accept it.
 */
export const TOKEN_CORE_PREFIX = 'standin_';
export const TOKEN_RANDOM_LENGTH = 32;
/** Length of the core (`standin_` + the random part), the part every token ends with. */
export const TOKEN_CORE_LENGTH = TOKEN_CORE_PREFIX.length + TOKEN_RANDOM_LENGTH;
/** Longest provider prefix a token may have. */
export const MAX_TOKEN_PREFIX = 24;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Characters a token (prefix included) is made of; anything else delimits it. */
export const TOKEN_CHAR = /[A-Za-z0-9_-]/;

/** Finds every token core in a string: `standin_` + exactly 32 base62 characters. */
export function tokenCorePattern(): RegExp {
  return /standin_[A-Za-z0-9]{32}/g;
}

export function generateToken(prefix = ''): string {
  if (prefix !== '' && !new RegExp(`^[A-Za-z0-9_-]{1,${MAX_TOKEN_PREFIX}}$`).test(prefix)) {
    throw new Error('token prefix must be 1-24 characters of [A-Za-z0-9_-]');
  }
  let random = '';
  for (let i = 0; i < TOKEN_RANDOM_LENGTH; i++) random += BASE62[randomInt(BASE62.length)];
  return `${prefix}${TOKEN_CORE_PREFIX}${random}`;
}
