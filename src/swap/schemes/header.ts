import { headerAt, setHeaderAt, type Scheme } from './scheme.js';

/** A named header carrying the credential (`x-api-key: <token>`), replaced where it stands. */
export function headerScheme(spec: { header: string }): Scheme {
  return {
    accepts(_req, location) {
      return location.kind === 'header' && location.name === spec.header;
    },
    apply(req, location, token, value) {
      if (location.kind !== 'header') return [];
      setHeaderAt(req, location.index, headerAt(req, location.index).split(token).join(value));
      return [];
    },
    describe: () => `${spec.header}: [secret]`,
  };
}
