import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors.js';
import type { Exchange } from '../../exchange/exchange.js';
import type { ExchangeInput, RequestBody } from '../../exchange/flow.js';
import { fromRaw } from '../../model/headers.js';
import type { SandboxInfo } from '../../model/secrets.js';
import type { CheckedAddress, Target } from '../../model/target.js';
import { hasBody } from '../forward.js';

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
    read: (limit) =>
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const onData = (chunk: Buffer): void => {
          size += chunk.length;
          if (size > limit) {
            req.off('data', onData);
            req.pause();
            reject(new GatewayError('GW_BODY_TOO_LARGE', `body over ${limit} bytes`));
            return;
          }
          chunks.push(chunk);
        };
        req.on('data', onData);
        req.once('end', () => resolve(Buffer.concat(chunks, size)));
        req.once('error', () => reject(new GatewayError('GW_CLIENT_ABORTED', 'body not received')));
        req.once('aborted', () => reject(new GatewayError('GW_CLIENT_ABORTED', 'body not received')));
        if (res !== undefined && (req.headers.expect ?? '').toLowerCase() === '100-continue') res.writeContinue();
      }),
  };
}
