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
  /** What `log explain` reads; absent on rows written before it existed. Never a value. */
  detail?: NetLogDetail;
}

/**
 * The part of an exchange the columns do not hold, for `log explain`: where each credential was
 * placed (described with the value redacted), whether the response was scrubbed, and our own
 * wording of why a request was refused. Never a value, never a whole stand-in.
 */
export interface NetLogDetail {
  protocol: string;
  applied: { secret: string; version: number; placement: string }[];
  scrubbed: boolean;
  /** Where stand-ins were found (kinds of place and names, never the stand-ins). */
  found?: string[];
  /** The refusal's reason as the gateway words it (GatewayError.detail), when there was one. */
  reason?: string;
}

export interface NetLogQuery {
  /** Only this tenant's rows (with `default`, also the rows of unauthenticated connections); all when absent. */
  tenant?: string;
  sandbox?: string;
  /** Only rows this gateway wrote. */
  gateway?: string;
  /** A host, or a glob over hosts (`*.openai.com`, `api.?.example`): `*` and `?` as in a shell. */
  host?: string;
  decision?: string;
  status?: number;
  /** A secret's name (any version) or `name@version`. */
  secret?: string;
  method?: string;
  since?: number; // epoch ms
  until?: number; // epoch ms, exclusive
  limit?: number; // newest N, returned oldest first
  afterId?: number; // for --follow: rows with a larger row id, oldest first
}

export interface StoredNetLogRow extends NetLogRow {
  id: number; // row id, increasing
  /** The gateway that wrote the row (gateway-id.ts); '' for rows written before rows carried one. */
  gateway: string;
  complete: boolean;
}

/** One row with what `log explain` and the viewer's expanded row show. */
export interface NetLogRecord extends StoredNetLogRow {
  detail: NetLogDetail | undefined;
  chainSeq: number | null;
  hash: string | null;
}

export interface NetLogWriter {
  /** Queues a row; never blocks on disk or the network (the request path calls it). */
  record(row: NetLogRow): void;
  /**
   * Writes everything queued (used at shutdown and in tests). SQLite's writer does it before
   * returning; PostgreSQL's returns a promise that settles once the rows are in the database (or
   * in the spool).
   */
  flush(): void | Promise<void>;
  /** Rows queued and not yet written. */
  pending(): number;
  close(): void | Promise<void>;
  /**
   * False when rows could not be kept (PostgreSQL away and the spool full): the gateway then
   * refuses new exchanges (GW_LOG_UNAVAILABLE). Absent: always true (SQLite).
   */
  accepting?(): boolean;
  /** What waits in the on-disk spool (PostgreSQL); absent without one. */
  spooled?(): { rows: number; bytes: number; oldestAt: number | undefined };
}
