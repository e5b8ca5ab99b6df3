import { UsageError } from '../../errors.js';
import type { PlacementData } from '../../model/secrets.js';
import { decodeBasic } from '../find-tokens.js';
import { headerAt, printable, setHeaderAt, type SchemeDefinition } from './scheme.js';

/**
 * Basic credentials. Without a fixed user, a value of the form `user:password` replaces the whole
 * pair and any other value replaces the token where it stands (usually the password, e.g. Twilio's
 * SID:token). With a fixed user (`basic:x-access-token`), the sandbox's token may be the password
 * (any user), the user with an empty password, or the whole pair; upstream always gets
 * `user:value`, the value taken whole as the password.
 */
export interface BasicPlacement extends PlacementData {
  kind: 'basic';
  user?: string;
}

// A Basic user-id: printable ASCII without ':' (RFC 7617).
const BASIC_USER = /^[\x21-\x39\x3b-\x7e]{1,64}$/;

export const basic: SchemeDefinition<BasicPlacement> = {
  kind: 'basic',
  parse(arg, text) {
    if (arg === undefined) return { kind: 'basic' };
    if (!BASIC_USER.test(arg)) throw new UsageError(`invalid Basic user in scheme '${printable(text)}': printable characters, no ':'`);
    return { kind: 'basic', user: arg };
  },
  format: (p) => (p.user === undefined ? 'basic' : `basic:${p.user}`),
  normalize(p) {
    if (p['user'] === undefined || p['user'] === null) return { kind: 'basic' };
    return typeof p['user'] === 'string' && BASIC_USER.test(p['user']) ? { kind: 'basic', user: p['user'] } : undefined;
  },
  samePlace: () => true,
  sample: (p, token) => ({ method: 'GET', path: '/', headers: [['Authorization', `Basic ${Buffer.from(`${p.user ?? 'standin-check'}:${token}`).toString('base64')}`]] }),
  create: ({ user }) => ({
    accepts(req, found) {
      if (found.location.kind !== 'basic') return false;
      if (user === undefined) return true;
      const pair = decodeBasic(headerAt(req, found.location.index)) ?? '';
      return pair === found.token || pair === `${found.token}:` || pair.slice(pair.indexOf(':') + 1) === found.token;
    },
    apply(req, found, value) {
      if (found.location.kind !== 'basic') return [];
      const original = headerAt(req, found.location.index);
      const decoded = decodeBasic(original) ?? '';
      let pair: string;
      if (user !== undefined) pair = `${user}:${value}`;
      else pair = value.includes(':') ? value : decoded.split(found.token).join(value);
      const encoded = Buffer.from(pair, 'latin1').toString('base64');
      setHeaderAt(req, found.location.index, `Basic ${encoded}`);
      const sentB64 = original.replace(/^basic[ \t]+/i, '').trim();
      return [{ real: encoded, standIn: sentB64 }];
    },
    describe: () => (user === undefined ? 'Authorization: Basic [secret]' : `Authorization: Basic ${user}:[secret]`),
    // A fixed user makes the whole pair known, so its Base64 form can be matched too.
    knownForms: (value, standIn) => (user === undefined ? [] : [{ real: `${user}:${value}`, standIn: `${user}:${standIn}` }]),
  }),
};
