/** Where a stand-in token was found in a request. */
export type TokenLocation =
  | { kind: 'header'; index: number; name: string } // name lower-cased
  | { kind: 'basic'; index: number } // inside `Authorization: Basic <b64>` (decoded user:password)
  | { kind: 'query'; param: string; paramIndex: number }
  | { kind: 'path'; segment: number } // inside segment `segment` of the path split on '/' (0 is before the first '/')
  // A form field or multipart part (`form`), a JSON string at a dotted path (`json`); `field` null:
  // elsewhere in the body (a part's headers, a key, a body of a type the gateway does not read).
  | { kind: 'body'; format: 'form' | 'json' | null; field: string | null };

export interface FoundToken {
  token: string; // the whole token as written (provider prefix included)
  location: TokenLocation;
  /** The token had extra token characters around it: it can never be a valid token. */
  malformed: boolean;
  /**
   * Found in a place searched only for schemes that put credentials there (the path, the body):
   * it counts only when it belongs to this sandbox and its secret's scheme searches that place
   * (Scheme.searches). Anything else there is left alone, as in a place nobody searches.
   */
  optIn?: boolean;
}
