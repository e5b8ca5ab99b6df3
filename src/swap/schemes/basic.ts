import { decodeBasic } from '../find-tokens.js';
import { headerAt, setHeaderAt, type Scheme } from './scheme.js';

/**
 * Basic credentials. A value of the form `user:password` replaces the whole pair; any other value
 * replaces the token where it stands (usually the password, e.g. Twilio's SID:token).
 */
export function basicScheme(): Scheme {
  return {
    accepts(_req, location) {
      return location.kind === 'basic';
    },
    apply(req, location, token, value) {
      if (location.kind !== 'basic') return [];
      const original = headerAt(req, location.index);
      const decoded = decodeBasic(original) ?? '';
      const pair = value.includes(':') ? value : decoded.split(token).join(value);
      const encoded = Buffer.from(pair, 'latin1').toString('base64');
      setHeaderAt(req, location.index, `Basic ${encoded}`);
      const sentB64 = original.replace(/^basic[ \t]+/i, '').trim();
      return [{ real: encoded, standIn: sentB64 }];
    },
    describe: () => 'Authorization: Basic [secret]',
  };
}
