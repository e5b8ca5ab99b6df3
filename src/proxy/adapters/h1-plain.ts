import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors.js';
import { Exchange } from '../../exchange/exchange.js';
import { decide } from '../../exchange/pipeline.js';
import { parseAbsoluteHttpUrl } from '../../policy/target.js';
import { authenticate } from '../authenticate.js';
import type { ProxyDeps } from '../deps.js';
import { h1Input } from './h1-input.js';
import { logWhenClosed, refuse, send } from './h1-tunnel.js';
import { settle } from './settle.js';

/**
 * Absolute-form plain-HTTP proxy requests (`GET http://host/path`): authenticated per request,
 * then the same pipeline, whose egress step checks the destination. Forwarded when policy allows,
 * but a stand-in is never swapped over cleartext: a request carrying one is refused (plan).
 */
export function handlePlainRequest(deps: ProxyDeps, req: IncomingMessage, res: ServerResponse): void {
  const ex = new Exchange(deps.clock(), 'http', req.method ?? '');
  logWhenClosed(deps, ex, res);
  let parsed: ReturnType<typeof parseAbsoluteHttpUrl> | undefined;
  try {
    parsed = parseAbsoluteHttpUrl(req.url ?? '');
    ex.target = parsed.target;
    ex.setPath(parsed.path);
  } catch {
    ex.setPath((req.url ?? '').slice(0, 256));
  }
  let sandboxId = '';
  settle(
    () => {
      const sandbox = authenticate(deps.store, req);
      ex.sandbox = sandbox;
      sandboxId = sandbox.id;
      if (!parsed) throw new GatewayError('GW_BAD_TARGET', 'not an absolute http:// URL');
      res.once('close', deps.connections.acquire(sandbox.id));
      // The request line's absolute URL is the target: what is checked is its origin-form part.
      const input = h1Input(ex, sandbox, parsed.target, undefined, req, parsed.path, res);
      input.head.url = parsed.path;
      return decide(input, deps.pipeline);
    },
    (fwd) => send(deps, ex, sandboxId, fwd, req, res),
    (e) => refuse(deps, ex, e, req, res),
  );
}
