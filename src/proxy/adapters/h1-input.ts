import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Exchange } from '../../exchange/exchange.js';
import type { ExchangeInput, RequestBody } from '../../exchange/flow.js';
import { fromRaw } from '../../model/headers.js';
import type { SandboxInfo } from '../../model/secrets.js';
import type { CheckedAddress, Target } from '../../model/target.js';
import { hasBody } from '../forward.js';
import { readWhole } from './read-body.js';

/**
 * The Exchange input of one HTTP/1.1 request: its head from the raw header list (never Node's
 * joined view: what is checked is what is forwarded) and its body, streamed unless a step asks.
 */
export function h1Input(
  exchange: Exchange,
  sandbox: SandboxInfo,
  target: Target,
  address: CheckedAddress | undefined,
  req: IncomingMessage,
  path: string,
  res?: ServerResponse,
): ExchangeInput {
  return {
    exchange,
    sandbox,
    target,
    address,
    head: { httpVersion: req.httpVersion, method: req.method ?? '', url: req.url ?? '', headers: fromRaw(req.rawHeaders) },
    path,
    body: h1Body(req, res),
  };
}

/**
 * Reads a request body whole when a credential step asks for it. A client waiting on
 * `Expect: 100-continue` is told to send it first (every check before the body has passed).
 */
function h1Body(req: IncomingMessage, res: ServerResponse | undefined): RequestBody {
  return {
    present: hasBody(req),
    read: (limit) => {
      const body = readWhole(req, limit);
      if (res !== undefined && (req.headers.expect ?? '').toLowerCase() === '100-continue') res.writeContinue();
      return body;
    },
  };
}
