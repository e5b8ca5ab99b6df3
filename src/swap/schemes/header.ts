import { renderTemplate } from '../scheme-spec.js';
import { headerAt, setHeaderAt, type Scheme } from './scheme.js';

/**
 * A named header carrying the credential. Without a template (`x-api-key: <token>`) the token is
 * replaced where it stands. With one (`X-Auth: Token {{value}}`) the header must hold exactly the
 * bare token or the template rendered with the token, and upstream gets the template rendered with
 * the value: the fixed text is the scheme's, not the sandbox's.
 */
export function headerScheme(spec: { header: string; template?: string }): Scheme {
  const { header, template } = spec;
  const sentAsExpected = (sent: string, token: string): boolean =>
    template === undefined || sent === token || sent === renderTemplate(template, token);
  return {
    accepts(req, location, token) {
      if (location.kind !== 'header' || location.name !== header) return false;
      return sentAsExpected(headerAt(req, location.index).trim(), token);
    },
    apply(req, location, token, value) {
      if (location.kind !== 'header') return [];
      const sent = headerAt(req, location.index);
      if (template === undefined) {
        setHeaderAt(req, location.index, sent.split(token).join(value));
        return [];
      }
      const rendered = renderTemplate(template, value);
      setHeaderAt(req, location.index, rendered);
      return [
        { real: rendered, standIn: sent.trim() },
        { real: value, standIn: token },
      ];
    },
    describe: () => `${header}: ${template === undefined ? '[secret]' : renderTemplate(template, '[secret]')}`,
  };
}
