import { GatewayError } from '../../errors.js';
import type { Exchange } from '../../exchange/exchange.js';
import type { Forward } from '../../exchange/flow.js';
import type { ResponseSink } from '../sink.js';

/**
 * The gateway's answer to a self-test request: what the pipeline decided and would have sent,
 * described without a value — the credentials placed (secret@version, where), whether the
 * response would be scrubbed, and the names (never values) of the headers that would leave.
 */
export function answerCheck(ex: Exchange, fwd: Forward, res: ResponseSink): void {
  ex.answeredAsCheck(new GatewayError('GW_CHECK_ONLY'));
  const body = JSON.stringify({
    check: true,
    request_id: ex.id,
    decision: ex.decision,
    applied: ex.applied.map((a) => ({ secret: a.secretName, version: a.version, placement: a.placement })),
    scrubbed: ex.scrubbed,
    forwarded: false,
    method: fwd.method,
    header_names: fwd.headers.map(([name]) => name.toLowerCase()),
  });
  res.writeHead(200, undefined, [
    'Content-Type', 'application/json',
    'Content-Length', String(Buffer.byteLength(body)),
    'Cache-Control', 'no-store',
    'X-Standin-Request-Id', ex.id,
  ]);
  res.end(body);
}
