import type { Decision, GatewayErrorCode } from '../errors.js';

/**
 * One row of the network log: one per request inside a tunnel, per plain-HTTP request, and per
 * refused or failed connection. Bytes are counted from the sandbox's point of view:
 * `bytesOut` = request body bytes sent upstream, `bytesIn` = response body bytes received from the
 * upstream (as transferred: compressed bodies count compressed).
 */
export interface NetLogRow {
  requestId: string; // random id, also given to the sandbox in refusals so it can be looked up
  at: number; // epoch ms when the request (or connection) started
  sandbox: string | null; // sandbox name, null when not authenticated
  /** The sandbox's tenant; null (or absent) when not authenticated: shown with tenant `default`. */
  tenant?: string | null;
  method: string; // CONNECT for connection-level rows
  scheme: 'https' | 'http';
  host: string; // canonical host of the CONNECT target / absolute URL ('' if unparseable)
  port: number; // 0 if unparseable
  path: string; // path with query values redacted, control characters escaped
  status: number; // status sent to the sandbox; 0 when none could be sent
  decision: Decision;
  secrets: string[]; // name@version of each secret swapped (or misused)
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  upstreamIp: string | null;
  errorCode: GatewayErrorCode | null;
  /**
   * False for the row written when a request is forwarded, before the exchange ends; the final
   * row replaces it. A row still false after the gateway stopped is an exchange it never saw end
   * (a crash while the response streamed). Absent means true.
   */
  complete?: boolean;
}

export interface NetLogQuery {
  /** Only this tenant's rows (with `default`, also the rows of unauthenticated connections); all when absent. */
  tenant?: string;
  sandbox?: string;
  host?: string;
  decision?: string;
  since?: number; // epoch ms
  limit?: number; // newest N, returned oldest first
  afterId?: number; // for --follow: rows with a larger row id, oldest first
}

export interface StoredNetLogRow extends NetLogRow {
  id: number; // row id, increasing
  complete: boolean;
}

export interface NetLogWriter {
  /** Queues a row; never blocks on disk. */
  record(row: NetLogRow): void;
  /** Writes everything queued, synchronously (used at shutdown and in tests). */
  flush(): void;
  /** Rows queued and not yet written. */
  pending(): number;
  close(): void;
}
