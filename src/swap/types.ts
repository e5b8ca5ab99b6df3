
/** Where a stand-in token was found in a request. */
export type TokenLocation =
  | { kind: 'header'; index: number; name: string } // name lower-cased
  | { kind: 'basic'; index: number } // inside `Authorization: Basic <b64>` (decoded user:password)
  | { kind: 'query'; param: string; paramIndex: number };

export interface FoundToken {
  token: string; // the whole token as written (provider prefix included)
  location: TokenLocation;
  /** The token had extra token characters around it: it can never be a valid token. */
  malformed: boolean;
}
