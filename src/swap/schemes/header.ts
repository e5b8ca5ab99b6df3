import { UsageError } from '../../errors.js';
import type { PlacementData } from '../../model/secrets.js';
import { headerAt, printable, setHeaderAt, type SchemeDefinition } from './scheme.js';

/**
 * A named header carrying the credential (name lower-cased). Without a template
 * (`x-api-key: <token>`) the token is replaced where it stands. With one (`X-Auth: Token
 * {{value}}`: fixed text around exactly one `{{value}}`) the header must hold exactly the bare
 * token or the template rendered with the token, and upstream gets the template rendered with the
 * value: the fixed text is the scheme's, not the sandbox's.
 */
export interface HeaderPlacement extends PlacementData {
  kind: 'header';
  header: string;
  template?: string;
}

// RFC 9110 token characters: what a header name may be made of.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
// Template text: printable ASCII and spaces, written as is into a header value.
const TEMPLATE_TEXT = /^[\x20-\x7e]{0,200}$/;
export const VALUE_PLACEHOLDER = '{{value}}';

// Headers a scheme may not target: they control framing, routing or the proxy itself. Authorization
// is the place bearer and basic own; a template may still target it (`Authorization: Bot {{value}}`).
const FORBIDDEN_HEADERS = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te',
  'trailer', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'cookie',
]);

export const header: SchemeDefinition<HeaderPlacement> = {
  kind: 'header',
  parse(arg, text) {
    const raw = arg ?? '';
    const eq = raw.indexOf('=');
    const name = (eq < 0 ? raw : raw.slice(0, eq)).trim();
    if (!HEADER_NAME.test(name)) throw new UsageError(`invalid header name in scheme '${printable(text)}'`);
    const headerName = checkHeaderName(name.toLowerCase());
    if (eq < 0) {
      if (headerName === 'authorization') {
        throw new UsageError('scheme header:authorization needs a template (header:authorization=Bot {{value}}), or use bearer or basic');
      }
      return { kind: 'header', header: headerName };
    }
    return { kind: 'header', header: headerName, template: checkTemplate(raw.slice(eq + 1), text) };
  },
  format: (p) => (p.template === undefined ? `header:${p.header}` : `header:${p.header}=${p.template}`),
  normalize(p) {
    const name = typeof p['header'] === 'string' ? p['header'].trim().toLowerCase() : '';
    const template = p['template'];
    try {
      if (!HEADER_NAME.test(name)) return undefined;
      checkHeaderName(name);
      if (template === undefined || template === null) return { kind: 'header', header: name };
      return typeof template === 'string' ? { kind: 'header', header: name, template: checkTemplate(template, name) } : undefined;
    } catch {
      return undefined;
    }
  },
  samePlace: (a, b) => a.header === b.header,
  sample: (p, token) => ({ method: 'GET', path: '/', headers: [[p.header, p.template === undefined ? token : renderTemplate(p.template, token)]] }),
  create: ({ header: name, template }) => {
    const sentAsExpected = (sent: string, token: string): boolean =>
      template === undefined || sent === token || sent === renderTemplate(template, token);
    return {
      accepts(req, found) {
        if (found.location.kind !== 'header' || found.location.name !== name) return false;
        return sentAsExpected(headerAt(req, found.location.index).trim(), found.token);
      },
      apply(req, found, value) {
        if (found.location.kind !== 'header') return [];
        const sent = headerAt(req, found.location.index);
        if (template === undefined) {
          setHeaderAt(req, found.location.index, sent.split(found.token).join(value));
          return [];
        }
        const rendered = renderTemplate(template, value);
        setHeaderAt(req, found.location.index, rendered);
        return [{ real: rendered, standIn: sent.trim() }];
      },
      describe: () => `${name}: ${template === undefined ? '[secret]' : renderTemplate(template, '[secret]')}`,
    };
  },
};

function checkHeaderName(name: string): string {
  if (FORBIDDEN_HEADERS.has(name) || name.startsWith('proxy-')) throw new UsageError(`scheme header:${name} is not allowed`);
  return name;
}

/** A template holds `{{value}}` exactly once, in printable text that can go in a header. */
export function checkTemplate(template: string, context: string): string {
  const parts = template.split(VALUE_PLACEHOLDER);
  if (parts.length !== 2) {
    throw new UsageError(`header template in scheme '${printable(context)}' must contain ${VALUE_PLACEHOLDER} exactly once`);
  }
  if (!TEMPLATE_TEXT.test(template.replace(VALUE_PLACEHOLDER, ''))) {
    throw new UsageError(`header template in scheme '${printable(context)}' must be printable ASCII, at most 200 characters`);
  }
  if (template.trim() !== template) throw new UsageError(`header template in scheme '${printable(context)}' has leading or trailing spaces`);
  return template;
}

export function renderTemplate(template: string, value: string): string {
  const i = template.indexOf(VALUE_PLACEHOLDER);
  return `${template.slice(0, i)}${value}${template.slice(i + VALUE_PLACEHOLDER.length)}`;
}
