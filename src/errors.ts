/**
 * The one error family of standin. Every refusal or failure on the request path is a GatewayError
 * with a stable code; the code decides the HTTP status the sandbox sees and the decision recorded
 * in the network log, in this one table.
 *
 * Messages are written by us, never copied from a request or from another library's error, so
 * they can be shown to the sandbox and logged without leaking anything.
 */

export type Decision = 'allowed' | 'swapped' | 'denied' | 'token_misuse' | 'error';

interface CodeSpec {
  status: number;
  decision: Decision;
  title: string;
}

const CODES = {
  GW_PROXY_AUTH: { status: 407, decision: 'denied', title: 'Proxy authentication required' },
  GW_BAD_REQUEST: { status: 400, decision: 'denied', title: 'Malformed request' },
  GW_BAD_TARGET: { status: 400, decision: 'denied', title: 'Malformed proxy target' },
  GW_HTTP_VERSION: { status: 505, decision: 'denied', title: 'Only HTTP/1.1 and HTTP/1.0 are accepted' },
  GW_METHOD_DENIED: { status: 405, decision: 'denied', title: 'Method not allowed through the gateway' },
  GW_EGRESS_DENIED: { status: 403, decision: 'denied', title: 'Host not allowed by the egress policy' },
  GW_PORT_DENIED: { status: 403, decision: 'denied', title: 'Port not allowed by the egress policy' },
  GW_PRIVATE_ADDRESS: { status: 403, decision: 'denied', title: 'Destination address is not public' },
  GW_DNS_FAILED: { status: 502, decision: 'error', title: 'Destination host could not be resolved' },
  GW_HOST_MISMATCH: { status: 421, decision: 'denied', title: 'Request host does not match the tunnel target' },
  GW_TOKEN_SCOPE: { status: 403, decision: 'token_misuse', title: 'Stand-in token is not valid for this host' },
  GW_TOKEN_UNKNOWN: { status: 403, decision: 'denied', title: 'Unknown or revoked stand-in token' },
  GW_TOKEN_PLACEMENT: { status: 403, decision: 'denied', title: 'Stand-in token is not in a place its secret is applied to' },
  GW_TOKEN_CLEARTEXT: { status: 403, decision: 'denied', title: 'Stand-in tokens are never swapped over cleartext HTTP' },
  GW_BODY_TOO_LARGE: { status: 413, decision: 'denied', title: 'Request body is larger than the gateway reads for this credential' },
  GW_BODY_UNSUPPORTED: { status: 415, decision: 'denied', title: 'Request body type cannot carry this credential' },
  GW_SIGNATURE_INVALID: { status: 403, decision: 'denied', title: 'Request is not signed with the stand-in credential' },
  GW_SECRET_UNAVAILABLE: { status: 502, decision: 'error', title: 'The credential for this token cannot be used' },
  GW_SECRET_UNFIT: { status: 502, decision: 'error', title: 'The credential value cannot be placed where its scheme puts it' },
  GW_TOKEN_EXCHANGE: { status: 502, decision: 'error', title: 'The credential could not be exchanged for an access token' },
  GW_UPSTREAM_CONNECT: { status: 502, decision: 'error', title: 'Could not connect to the destination' },
  GW_UPSTREAM_TLS: { status: 502, decision: 'error', title: 'Destination TLS certificate could not be verified' },
  GW_UPSTREAM_TIMEOUT: { status: 504, decision: 'error', title: 'Destination did not answer in time' },
  GW_UPSTREAM_PROTOCOL: { status: 502, decision: 'error', title: 'Destination sent an invalid response' },
  GW_TLS_HANDSHAKE: { status: 400, decision: 'error', title: 'TLS handshake with the client failed' },
  GW_SELF_TARGET: { status: 403, decision: 'denied', title: 'The gateway does not connect to itself' },
  GW_TOO_MANY_CONNECTIONS: { status: 429, decision: 'denied', title: 'Too many open connections for this sandbox' },
  GW_TIMEOUT: { status: 408, decision: 'error', title: 'Client was too slow' },
  GW_CLIENT_ABORTED: { status: 499, decision: 'error', title: 'Client closed the connection' },
  GW_CHECK_ONLY: { status: 200, decision: 'allowed', title: 'Self-test answered by the gateway; nothing was forwarded' },
  GW_STORE_STALE: { status: 503, decision: 'denied', title: 'The gateway cannot confirm its credentials are current (store database unreachable); swaps are refused' },
  GW_INTERNAL: { status: 500, decision: 'error', title: 'Internal gateway error' },
  // Never sent: the primary closes the row of an exchange whose proxy worker died mid-way (the row
  // keeps the credentials that were sent; workers/row-file-reader.ts).
  GW_WORKER_EXITED: { status: 502, decision: 'error', title: 'The proxy worker handling this request exited' },
  // The network log's database is away and its on-disk spool is full: a request that cannot be
  // logged is not forwarded (fleet mode, src/netlog/pg/spool.ts).
  GW_LOG_UNAVAILABLE: { status: 503, decision: 'error', title: 'The gateway cannot log requests right now; try again later' },
} as const satisfies Record<string, CodeSpec>;

export type GatewayErrorCode = keyof typeof CODES;

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;

  /** `detail` is for the operator's log only; it must never contain a secret value. */
  constructor(code: GatewayErrorCode, readonly detail?: string) {
    super(CODES[code].title);
    this.name = 'GatewayError';
    this.code = code;
  }

  get status(): number {
    return CODES[this.code].status;
  }

  get decision(): Decision {
    return CODES[this.code].decision;
  }

  get title(): string {
    return CODES[this.code].title;
  }
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}

export function specOf(code: GatewayErrorCode): CodeSpec {
  return CODES[code];
}

/**
 * Errors for the command line and the control plane: bad input (exit 2) or a runtime failure
 * (exit 1). Same rule as above: the message is ours and safe to print.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
}

export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  readonly exitCode = 1;
}
