import { randomUUID } from 'node:crypto';
import { GatewayError, type Decision, type GatewayErrorCode } from '../errors.js';
import type { NetLogRow, NetLogWriter } from '../netlog/types.js';
import { redactPath } from '../netlog/sanitize.js';
import type { Target } from '../model/target.js';

/**
 * What the network log will say about one request or connection. Filled in as the exchange
 * goes, written exactly once when it ends, whichever way it ends.
 */
export class ExchangeRecord {
  readonly requestId = randomUUID();
  readonly startedAt: number;
  sandbox: string | null = null;
  tenant: string | null = null;
  host = '';
  port = 0;
  path = '';
  status = 0;
  decision: Decision = 'allowed';
  secrets: string[] = [];
  bytesIn = 0;
  bytesOut = 0;
  upstreamIp: string | null = null;
  errorCode: GatewayErrorCode | null = null;
  private written = false;

  constructor(
    private readonly clock: () => number,
    readonly method: string,
    readonly scheme: 'https' | 'http',
  ) {
    this.startedAt = clock();
  }

  setTarget(target: Target): void {
    this.host = target.host;
    this.port = target.port;
  }

  setPath(rawPath: string): void {
    this.path = redactPath(rawPath);
  }

  /** Records the first failure only: later ones are consequences (an abort after a reset). */
  fail(err: GatewayError): void {
    if (this.errorCode !== null) return;
    this.decision = err.decision;
    this.errorCode = err.code;
    if (this.status === 0) this.status = err.status;
  }

  /** Writes the row when the response closes; a response closed before it finished was aborted. */
  writeOnClose(res: { writableFinished: boolean; once(event: 'close', f: () => void): unknown }, netlog: NetLogWriter): void {
    res.once('close', () => {
      if (!res.writableFinished) this.fail(new GatewayError('GW_CLIENT_ABORTED'));
      this.write(netlog);
    });
  }

  write(netlog: NetLogWriter): void {
    if (this.written) return;
    this.written = true;
    const row: NetLogRow = {
      requestId: this.requestId,
      at: this.startedAt,
      sandbox: this.sandbox,
      tenant: this.tenant,
      method: this.method.slice(0, 32),
      scheme: this.scheme,
      host: this.host,
      port: this.port,
      path: this.path,
      status: this.status,
      decision: this.decision,
      secrets: this.secrets,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      durationMs: Math.max(0, Math.round(this.clock() - this.startedAt)),
      upstreamIp: this.upstreamIp,
      errorCode: this.errorCode,
    };
    netlog.record(row);
  }
}
