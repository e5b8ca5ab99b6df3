import { randomUUID } from 'node:crypto';
import type { Decision, GatewayError, GatewayErrorCode } from '../errors.js';
import type { SandboxInfo } from '../model/secrets.js';
import type { CheckedAddress, Target } from '../model/target.js';
import { redactPath } from '../netlog/sanitize.js';

/**
 * How the sandbox spoke: a request inside an intercepted tunnel (`http/1.1`), an HTTP/2 stream
 * there (`h2`), a WebSocket handshake, an absolute-form plain-HTTP request (`http`), or a tunnel
 * that carried no request at all (`connect`: refused, failed, or silent).
 */
export type Protocol = 'http/1.1' | 'h2' | 'websocket' | 'http' | 'connect';

/** One credential placed on the request: which secret, which version, where. Never the value. */
export interface AppliedCredential {
  secretId: string;
  secretName: string;
  version: number;
  /** The placement, described with the value redacted (`Authorization: Bearer [secret]`). */
  placement: string;
}

/**
 * One exchange as the gateway sees it: who asked, for what, what was decided and what it cost.
 * It is filled in as the exchange goes and the network log row is derived from it (log-row.ts).
 * It never holds a value: the outgoing request that carries one is the pipeline's output
 * (Forward), not part of the record.
 */
export class Exchange {
  readonly id = randomUUID();
  readonly startedAt: number;
  sandbox: Pick<SandboxInfo, 'id' | 'name' | 'tenant'> | null = null;
  target: Target | null = null;
  address: CheckedAddress | null = null;
  method: string;
  /** The request path as the log may show it: query values redacted, bytes escaped. */
  path = '';
  status = 0;
  decision: Decision = 'allowed';
  /** `name@version` of secrets the request carried tokens for, applied or refused. */
  secrets: string[] = [];
  applied: AppliedCredential[] = [];
  /** Where stand-ins were found (`header authorization`, `query key`), never the stand-ins themselves. */
  found: string[] = [];
  /** Whether the response is scrubbed (a value of the sandbox could come back from this host). */
  scrubbed = false;
  error: GatewayError | null = null;
  bytesIn = 0;
  bytesOut = 0;
  /** When the request left for the upstream (epoch ms), if it did. */
  forwardedAt: number | null = null;
  #ended = false;

  constructor(
    now: number,
    readonly protocol: Protocol,
    method: string,
  ) {
    this.startedAt = now;
    this.method = method;
  }

  get scheme(): 'https' | 'http' {
    return this.protocol === 'http' ? 'http' : 'https';
  }

  get errorCode(): GatewayErrorCode | null {
    return this.error?.code ?? null;
  }

  get ended(): boolean {
    return this.#ended;
  }

  setPath(rawPath: string): void {
    this.path = redactPath(rawPath);
  }

  /** Records the first failure only: later ones are consequences (an abort after a reset). */
  fail(err: GatewayError): void {
    if (this.error !== null) return;
    this.error = err;
    this.decision = err.decision;
    if (this.status === 0) this.status = err.status;
  }

  /**
   * The gateway answered a self-test itself (`sandbox check`): decided like any request, never
   * forwarded. The decision stays what the pipeline made it; the code says nothing left.
   */
  answeredAsCheck(err: GatewayError): void {
    this.error = err;
    this.status = err.status;
    this.address = null;
  }

  credentialApplied(c: AppliedCredential): void {
    if (!this.applied.some((a) => a.secretId === c.secretId)) this.applied.push(c);
    this.decision = 'swapped';
    this.secrets = this.applied.map((a) => `${a.secretName}@${a.version}`);
  }

  /** Marks the exchange over; true the first time only, so its row is written exactly once. */
  end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    return true;
  }
}
