import type { NetLogRow, NetLogWriter } from '../netlog/types.js';
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
  };
}

/** Ends the exchange and queues its row, once, whichever way and however often it ends. */
export function logExchange(ex: Exchange, netlog: NetLogWriter, now: number): void {
  if (ex.end()) netlog.record(toNetLogRow(ex, now));
}
