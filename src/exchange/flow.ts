import type { Transform } from 'node:stream';
import type { HeaderList } from '../model/headers.js';
import type { SandboxInfo } from '../model/secrets.js';
import type { CheckedAddress, Target } from '../model/target.js';
import type { Scrubber } from '../swap/scrubber.js';
import type { CredentialRequest, Reflection, Scheme } from '../swap/schemes/scheme.js';
import type { FoundToken } from '../swap/types.js';
import type { PipelineDeps } from './deps.js';
import type { Exchange } from './exchange.js';
import type { TokenResolution } from '../model/secrets.js';

/** The request head as the adapter received it (HTTP/1.1 today, an h2 stream's HEADERS next). */
export interface RequestHead {
  /** `1.1`, `1.0`: what the request line said (h2 will say `2`). */
  httpVersion: string;
  method: string;
  /** The request target as sent: origin-form inside a tunnel, absolute-form for plain HTTP. */
  url: string;
  headers: HeaderList;
}

/** The request body as the adapter holds it: streamed by default, read whole only when asked. */
export interface RequestBody {
  /** Whether the request has a body at all (RFC 9112 §6.3: Content-Length or Transfer-Encoding). */
  readonly present: boolean;
  /** Reads the whole body; rejects with GW_BODY_TOO_LARGE beyond `limit` bytes. */
  read(limit: number): Promise<Buffer>;
}

/** What an adapter hands the pipeline for one exchange. */
export interface ExchangeInput {
  exchange: Exchange;
  /** The sandbox as authenticated when the connection was made (refreshed by the pipeline). */
  sandbox: SandboxInfo;
  /** The CONNECT target, or the absolute URL's authority for plain HTTP. */
  target: Target;
  /** The address checked at CONNECT; absent for plain HTTP (checked per request by `egress`). */
  address?: CheckedAddress;
  head: RequestHead;
  /** origin-form path and query to send upstream. */
  path: string;
  body: RequestBody;
}

/** The pipeline's decision to forward, with the request exactly as it must leave. */
export interface Forward {
  tls: boolean;
  target: Target;
  address: CheckedAddress;
  method: string;
  path: string;
  headers: HeaderList;
  /** The body read and possibly rewritten by a credential step; absent: stream it as received. */
  body?: Buffer;
  /** A streamed body goes through this on its way (a scheme re-signing it as it streams). */
  bodyTransform?: () => Transform;
  /** Present when a value could come back from this host: the response is scrubbed of it. */
  scrubber: Scrubber | undefined;
  /** The pairs the scrubber was built from (expanded), for same-length masking of byte streams. */
  reflections: readonly Reflection[];
  /** The client sent `Expect: 100-continue`: tell it to go on now that every check passed. */
  expectsContinue: boolean;
}

/** A token found in the request, resolved to its owner, with the scheme that will place it. */
export interface PlannedToken {
  found: FoundToken;
  resolution: TokenResolution;
  scheme: Scheme;
}

/** The state the steps share while deciding one exchange. Values live here, never in `exchange`. */
export interface Flow {
  readonly input: ExchangeInput;
  readonly exchange: Exchange;
  readonly deps: PipelineDeps;
  sandbox: SandboxInfo;
  address: CheckedAddress | undefined;
  /** The outgoing request, changed by the steps in order. */
  request: CredentialRequest;
  found: FoundToken[];
  planned: PlannedToken[];
  /** Forms of placed values and their stand-ins, before expansion. */
  reflections: Reflection[];
  scrubber: Scrubber | undefined;
  scrubbed: readonly Reflection[];
  signers: ((req: CredentialRequest) => void | Promise<void>)[];
  bodyTransform: (() => Transform) | undefined;
  expectsContinue: boolean;
  /** Headers the protocol itself sets after finishing (a WebSocket handshake's Upgrade). */
  extraHeaders: HeaderList;
}
