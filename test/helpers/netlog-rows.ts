import type { NetLogRow } from '../../src/netlog/types.js';

/**
 * Network-log rows for tests of the log's backends: each call a new request id (a valid UUID) one
 * second after the last, from `t0`, an allowed GET unless `extra` says otherwise. `count` is how
 * many were made (the last row's number).
 */
export function netLogRows(t0: number): { row(extra?: Partial<NetLogRow>): NetLogRow; count(): number } {
  let n = 0;
  return {
    row(extra: Partial<NetLogRow> = {}): NetLogRow {
      n++;
      return {
        requestId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
        at: t0 + n * 1000,
        sandbox: 'agent',
        tenant: 'default',
        method: 'GET',
        scheme: 'https',
        host: 'api.example.com',
        port: 443,
        path: '/v1/models',
        status: 200,
        decision: 'allowed',
        secrets: [],
        bytesIn: 10,
        bytesOut: 1,
        durationMs: 5,
        upstreamIp: '93.184.216.34',
        errorCode: null,
        detail: { protocol: 'http/1.1', applied: [], scrubbed: false },
        ...extra,
      };
    },
    count: () => n,
  };
}
