import type { Transform } from 'node:stream';
import type { HeaderList } from '../../model/headers.js';
import type { PlacementData } from '../../model/secrets.js';
import type { Target } from '../../model/target.js';
import type { QueryParam } from '../find-tokens.js';
import type { AccessTokenSource } from '../access-tokens.js';
import type { FoundToken, TokenLocation } from '../types.js';

/** A form of the real value that may come back in a response, and what replaces it there. */
export interface Reflection {
  real: string;
  standIn: string;
}

/**
 * The request as credential steps see and change it. Headers and query are the outgoing ones
 * (already copied: changing them never changes what the adapter received). `body` is there only
 * when a scheme of the request asked for it (`needsBody`), read whole and bounded.
 */
export interface CredentialRequest {
  readonly method: string;
  /** origin-form path and query; header finishing rebuilds it from `query` before signing. */
  path: string;
  readonly target: Target;
  readonly now: number;
  headers: HeaderList;
  query: QueryParam[];
  body?: Buffer;
  /** Runs `sign` after every credential is placed and the headers are final (signing.ts). */
  addSigner(sign: (req: CredentialRequest) => void | Promise<void>): void;
  /**
   * Streams the body through a transform made when it is sent (forward.ts), for a scheme that
   * rewrites the body as it goes without holding it (SigV4's signed chunks). One per request.
   */
  transformBody(make: () => Transform): void;
}

/**
 * Which stored credential is being applied, and the gateway services a scheme may call (an
 * OAuth2 token exchange). Ids and numbers only: the value is `apply`'s own argument.
 */
export interface ApplyContext {
  readonly secretId: string;
  readonly environment: string;
  readonly version: number;
  /** Access tokens fetched by the gateway; absent where no token exchange is wired (unit tests). */
  readonly accessTokens?: AccessTokenSource;
}

/**
 * One placement at work on the request path. `accepts` says whether a token found at a location
 * is where this placement puts the credential; `apply` puts the real value there and returns the
 * forms of it, besides the value itself, that must be scrubbed from the response. `apply` may be
 * async (a token exchange) and may read `req.body` when `needsBody` says so.
 */
export interface Scheme {
  accepts(req: CredentialRequest, found: FoundToken): boolean;
  apply(req: CredentialRequest, found: FoundToken, value: string, ctx: ApplyContext): Reflection[] | Promise<Reflection[]>;
  /** Human description with the value redacted. */
  describe(): string;
  /** Stand-ins in places the generic finder does not search (a path segment, a body field). */
  find?(req: CredentialRequest): FoundToken[];
  /**
   * Opt-in places (the path, the body) where this placement's stand-ins are looked for: a token
   * found there counts only for a secret whose scheme names the place (plan.ts).
   */
  readonly searches?: readonly TokenLocation['kind'][];
  /** The body limit in bytes when this placement needs the request body; absent when it does not. */
  readonly needsBody?: number;
  /** Asks for the body of this request only (bounded by the gateway's limit): SigV4 without a payload hash. */
  wantsBody?(req: CredentialRequest): boolean;
  /**
   * Forms of the value the sandbox could learn from a response without any request of its own
   * (a fixed Basic user makes the whole `user:value` pair known): scrubbed whenever the secret is.
   */
  knownForms?(value: string, standIn: string): Reflection[];
}

/**
 * A credential scheme: everything about one `kind`, in one file. Adding a scheme is one new file
 * and one line in registry.ts.
 */
export interface SchemeDefinition<P extends PlacementData = PlacementData> {
  readonly kind: string;
  /** Reads `--scheme KIND[:ARG]` (arg undefined when there is no colon); a UsageError when invalid. */
  parse(arg: string | undefined, text: string): P;
  /** The `--scheme` text of a placement (the inverse of parse). */
  format(p: P): string;
  /** Checks a placement that did not come from text (stored rows, presets); undefined when invalid. */
  normalize(data: PlacementData): P | undefined;
  /** Whether two placements claim the same spot (and so cannot both be given). */
  samePlace(a: P, b: P): boolean;
  create(p: P): Scheme;
  /**
   * A request that carries `token` where this placement puts the credential, as a client would
   * send it: what `sandbox check` sends through the gateway. Absent when no such request can be
   * made without the client's own work (a signature).
   */
  sample?(p: P, token: string): SampleRequest;
}

/** A request a client would send with a stand-in in its place (origin-form path, no Host). */
export interface SampleRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body?: string;
}

export function headerAt(req: CredentialRequest, index: number): string {
  const entry = req.headers[index];
  if (!entry) throw new Error('header index out of range');
  return entry[1];
}

export function setHeaderAt(req: CredentialRequest, index: number, value: string): void {
  const entry = req.headers[index];
  if (!entry) throw new Error('header index out of range');
  entry[1] = value;
}

/** Printable ASCII for echoing user input in an error. */
export function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
}
