import { decodeBasic } from '../find-tokens.js';
import { headerAt, setHeaderAt, type Scheme } from './scheme.js';

/**
 * Basic credentials. Without a fixed user, a value of the form `user:password` replaces the whole
 * pair and any other value replaces the token where it stands (usually the password, e.g. Twilio's
 * SID:token). With a fixed user (`basic:x-access-token`), the sandbox's token may be the password
 * (any user), the user with an empty password, or the whole pair; upstream always gets
 * `user:value`, the value taken whole as the password.
 */
export function basicScheme(spec: { user?: string } = {}): Scheme {
  const { user } = spec;
  return {
    accepts(req, location, token) {
      if (location.kind !== 'basic') return false;
      if (user === undefined) return true;
      const pair = decodeBasic(headerAt(req, location.index)) ?? '';
      return pair === token || pair === `${token}:` || pair.slice(pair.indexOf(':') + 1) === token;
    },
    apply(req, location, token, value) {
      if (location.kind !== 'basic') return [];
      const original = headerAt(req, location.index);
      const decoded = decodeBasic(original) ?? '';
      let pair: string;
      if (user !== undefined) pair = `${user}:${value}`;
      else pair = value.includes(':') ? value : decoded.split(token).join(value);
      const encoded = Buffer.from(pair, 'latin1').toString('base64');
      setHeaderAt(req, location.index, `Basic ${encoded}`);
      const sentB64 = original.replace(/^basic[ \t]+/i, '').trim();
      return [{ real: encoded, standIn: sentB64 }];
    },
    describe: () => (user === undefined ? 'Authorization: Basic [secret]' : `Authorization: Basic ${user}:[secret]`),
  };
}
