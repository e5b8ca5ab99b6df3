import { headerAt, setHeaderAt, type Scheme } from './scheme.js';

// `Authorization: Bearer <token>`; `token <token>` is GitHub's older spelling of the same thing.
const BEARER = /^(bearer|token)[ \t]+(\S+)[ \t]*$/i;

export function bearerScheme(): Scheme {
  return {
    accepts(req, location, token) {
      if (location.kind !== 'header' || location.name !== 'authorization') return false;
      const m = BEARER.exec(headerAt(req, location.index));
      return m?.[2] === token;
    },
    apply(req, location, _token, value) {
      if (location.kind !== 'header') return [];
      const m = BEARER.exec(headerAt(req, location.index));
      setHeaderAt(req, location.index, `${m?.[1] ?? 'Bearer'} ${value}`);
      return [];
    },
    describe: () => 'Authorization: Bearer [secret]',
  };
}
