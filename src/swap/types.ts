import type { HeaderList } from '../model/headers.js';
import type { SandboxInfo, SecretInfo } from '../model/secrets.js';
import type { Target } from '../model/target.js';

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

/** One credential applied to a request: recorded as ids and versions, never values. */
export interface AppliedSwap {
  secretId: string;
  secretName: string;
  version: number;
  token: string;
}

/** One request inside a tunnel (or one plain-HTTP request), as the swap logic sees it. */
export interface Exchange {
  requestId: string;
  sandbox: SandboxInfo;
  target: Target;
  method: string;
  /** origin-form request target: path plus optional query. */
  path: string;
  headers: HeaderList;
}

/** What the proxy must know about a secret when a token is found: resolved through the store. */
export interface TokenOwner {
  sandboxId: string;
  secret: SecretInfo;
}
