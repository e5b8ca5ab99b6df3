import { cutStandIns } from '../netlog/sanitize.js';
import type { NetLogDetail, NetLogRow, NetLogWriter } from '../netlog/types.js';
import type { Exchange } from './exchange.js';

/** The network log row of an exchange: the one place where one is derived from the other. */
export function toNetLogRow(ex: Exchange, now: number): NetLogRow {
  return {
    requestId: ex.id,
    at: ex.startedAt,
    sandbox: ex.sandbox?.name ?? null,
    tenant: ex.sandbox?.tenant ?? null,
    method: ex.method.slice(0, 32),
    scheme: ex.scheme,
    host: ex.target?.host ?? '',
    port: ex.target?.port ?? 0,
    path: ex.path,
    status: ex.status,
    decision: ex.decision,
    secrets: ex.secrets,
    bytesIn: ex.bytesIn,
    bytesOut: ex.bytesOut,
    durationMs: Math.max(0, Math.round(now - ex.startedAt)),
    upstreamIp: ex.address?.address ?? null,
    errorCode: ex.errorCode,
    detail: detailOf(ex),
  };
}

// What `log explain` needs beyond the columns; placements are described with the value redacted.
function detailOf(ex: Exchange): NetLogDetail {
  const detail: NetLogDetail = {
    protocol: ex.protocol,
    applied: ex.applied.map((a) => ({ secret: a.secretName, version: a.version, placement: cutStandIns(a.placement) })),
    scrubbed: ex.scrubbed,
  };
  if (ex.found.length > 0) detail.found = ex.found.map((f) => cutStandIns(f));
  if (ex.error?.detail !== undefined) detail.reason = cutStandIns(ex.error.detail);
  return detail;
}

/**
 * Queues the row of an exchange that is being forwarded, marked incomplete, so that the log holds
 * it before the response ends (a long stream shows in `log --follow` when it starts, and a crash
 * mid-stream still leaves a row naming the credentials sent). The final row replaces it.
 */
export function logForwarded(ex: Exchange, netlog: NetLogWriter, now: number): void {
  if (!ex.ended) netlog.record({ ...toNetLogRow(ex, now), complete: false });
}

/** Ends the exchange and queues its row, once, whichever way and however often it ends. */
export function logExchange(ex: Exchange, netlog: NetLogWriter, now: number): void {
  if (ex.end()) netlog.record(toNetLogRow(ex, now));
}
