/**
 * The value of an `oauth2` secret: a JSON document with the client's credentials and where to
 * exchange them. `refreshToken` present: the refresh-token grant (the provider may rotate it on
 * every use: the gateway stores the new one); absent: the client-credentials grant.
 * `clientAuth` says how the client authenticates to the token endpoint: `basic` (RFC 6749
 * §2.3.1, the default every server must accept) or `post` (client_id/client_secret in the form).
 */
export interface OAuth2Config {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  scope?: string;
  refreshToken?: string;
  clientAuth: 'basic' | 'post';
}

const MAX_FIELD = 8192;

/** The document checked field by field; a reason (never a value) when it is not usable. */
export function parseOAuth2Value(value: string): OAuth2Config | string {
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch {
    return 'the value is not a JSON document';
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'the value is not a JSON object';
  const d = doc as Record<string, unknown>;
  const str = (k: string, required: boolean): string | undefined | null => {
    const v = d[k];
    if (v === undefined || v === null) return required ? null : undefined;
    return typeof v === 'string' && v !== '' && v.length <= MAX_FIELD && !/[\r\n]/.test(v) ? v : null;
  };
  const fields = { clientId: str('clientId', true), clientSecret: str('clientSecret', true), tokenUrl: str('tokenUrl', true), scope: str('scope', false), refreshToken: str('refreshToken', false) };
  const bad = Object.entries(fields).find(([, v]) => v === null);
  if (bad !== undefined) return `field ${bad[0]} is missing or not a one-line string`;
  const auth = d['clientAuth'] ?? 'basic';
  if (auth !== 'basic' && auth !== 'post') return 'field clientAuth must be basic or post';
  let url: URL;
  try {
    url = new URL(fields.tokenUrl as string);
  } catch {
    return 'field tokenUrl is not a URL';
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.hash !== '') return 'field tokenUrl must be an https:// URL without credentials or fragment';
  const out: OAuth2Config = { clientId: fields.clientId as string, clientSecret: fields.clientSecret as string, tokenUrl: url.href, clientAuth: auth };
  if (typeof fields.scope === 'string') out.scope = fields.scope;
  if (typeof fields.refreshToken === 'string') out.refreshToken = fields.refreshToken;
  return out;
}

/** The same document with the refresh token the provider handed out instead of the old one. */
export function withRefreshToken(value: string, refreshToken: string): string {
  const doc = JSON.parse(value) as Record<string, unknown>;
  return JSON.stringify({ ...doc, refreshToken });
}
