import { countHeader, headerValue, mapHeader, withoutHeader, type HeaderList } from '../../model/headers.js';
import { formatTarget } from '../../policy/target.js';
import { restrictAcceptEncoding } from '../../swap/body-codec.js';
import type { Flow } from '../flow.js';
import { rebuildPath } from '../pipeline.js';
import type { Step } from '../pipeline.js';

/**
 * The outgoing head made final, in one place, before anything signs it: the query re-encoded,
 * `Expect` answered by the gateway itself, codings limited to what the scrubber can read, the
 * framing of the body as it will really be sent, and what the protocol needs (the absolute URL's
 * authority as Host for plain HTTP; the upgrade fields of a WebSocket handshake).
 */
export const headerFinishing: Step = {
  name: 'header finishing',
  run(flow) {
    const req = flow.request;
    req.path = rebuildPath(req);
    let headers = req.headers;
    // Answered only once every check passed, so a refused request never invites its body; the
    // upstream is not asked again: the body follows at once.
    const expect = headerValue(flow.input.head.headers, 'expect');
    if (expect !== undefined) {
      flow.expectsContinue = expect.toLowerCase() === '100-continue';
      headers = withoutHeader(headers, 'expect');
    }
    if (flow.scrubber !== undefined) headers = mapHeader(headers, 'accept-encoding', restrictAcceptEncoding);
    headers = framing(flow, headers);
    if (flow.exchange.protocol === 'http') headers = [...withoutHeader(headers, 'host'), ['Host', plainHost(flow)]];
    if (flow.exchange.protocol === 'websocket') {
      // Compressed frames could hide a value from the byte-level mask: no extensions when scrubbing.
      if (flow.scrubber !== undefined) headers = withoutHeader(headers, 'sec-websocket-extensions');
      headers = [...headers, ['Connection', 'Upgrade'], ['Upgrade', 'websocket']];
    }
    req.headers = headers;
  },
};

function framing(flow: Flow, headers: HeaderList): HeaderList {
  const { body } = flow.request;
  if (body !== undefined) return [...withoutHeader(headers, 'content-length'), ['Content-Length', String(body.length)]];
  // Transfer-Encoding is hop-by-hop (stripped with the others); a streamed body keeps its chunking.
  if (countHeader(flow.input.head.headers, 'transfer-encoding') > 0) return [...headers, ['Transfer-Encoding', 'chunked']];
  return headers;
}

// RFC 9112 §3.2.2: a proxy uses the absolute URL's authority, whatever Host says.
function plainHost(flow: Flow): string {
  const t = flow.input.target;
  return t.port === 80 ? formatTarget(t).replace(/:80$/, '') : formatTarget(t);
}
