import { GatewayError, UsageError } from '../../errors.js';
import type { PlacementData } from '../../model/secrets.js';
import { parseOAuth2Value } from '../oauth2-config.js';
import { headerAt, printable, setHeaderAt, type SchemeDefinition } from './scheme.js';

/**
 * OAuth2 (client credentials, or a stored refresh token): the value is the client's JSON document
 * (oauth2-config.ts), never sent anywhere but the token endpoint. The sandbox sends its stand-in
 * as `Authorization: Bearer`; the gateway exchanges the client's credentials for an access token
 * (access-tokens.ts: cached, single-flight, rotated refresh tokens stored) and sends that instead.
 * The access token, the client secret and the refresh token are all scrubbed from responses.
 */
export interface OAuth2Placement extends PlacementData {
  kind: 'oauth2';
}

const BEARER = /^(bearer)[ \t]+(\S+)[ \t]*$/i;

export const oauth2: SchemeDefinition<OAuth2Placement> = {
  kind: 'oauth2',
  parse(arg, text) {
    if (arg !== undefined) throw new UsageError(`scheme oauth2 takes no argument (the value is the client's JSON document): '${printable(text)}'`);
    return { kind: 'oauth2' };
  },
  format: () => 'oauth2',
  normalize: () => ({ kind: 'oauth2' }),
  samePlace: () => true,
  sample: (_p, token) => ({ method: 'GET', path: '/', headers: [['Authorization', `Bearer ${token}`]] }),
  create: () => ({
    accepts(req, found) {
      if (found.location.kind !== 'header' || found.location.name !== 'authorization') return false;
      return BEARER.exec(headerAt(req, found.location.index))?.[2] === found.token;
    },
    async apply(req, found, value, ctx) {
      if (found.location.kind !== 'header') return [];
      if (ctx.accessTokens === undefined) throw new GatewayError('GW_SECRET_UNAVAILABLE', 'no token exchange wired');
      const index = found.location.index;
      const access = await ctx.accessTokens.get(ctx, value);
      setHeaderAt(req, index, `Bearer ${access}`);
      return [{ real: access, standIn: found.token }];
    },
    describe: () => 'Authorization: Bearer [oauth2 access token]',
    // The document's own secrets are what a response could echo (an introspection or debug page).
    knownForms(value, standIn) {
      const c = parseOAuth2Value(value);
      if (typeof c === 'string') return [];
      return [c.clientSecret, c.refreshToken].flatMap((real) => (real === undefined ? [] : [{ real, standIn }]));
    },
  }),
};
