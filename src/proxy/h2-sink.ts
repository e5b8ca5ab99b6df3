import type { Http2ServerResponse, OutgoingHttpHeaders } from 'node:http2';
import type { ResponseSink } from './sink.js';

// RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2 (Node refuses to send them).
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te']);

/**
 * An HTTP/2 stream's response as a ResponseSink: header names lower-cased and repeated names
 * joined into lists (set-cookie stays a list of lines), connection-specific fields dropped, no
 * status message (HTTP/2 has none). Flow control is the stream's: `write` returns false and
 * 'drain' follows when the sandbox's window is full.
 */
export function h2Sink(res: Http2ServerResponse, onReset?: (streamId: number) => void): ResponseSink {
  const { stream } = res;
  return {
    get headersSent() {
      return res.headersSent;
    },
    get destroyed() {
      return stream.destroyed;
    },
    // A reset stream is ended by Node too (writableFinished): only a clean end counts.
    get writableFinished() {
      return stream.writableFinished && !stream.aborted && (stream.rstCode ?? 0) === 0;
    },
    get writableNeedDrain() {
      return stream.writableNeedDrain;
    },
    writeHead(status, _message, raw) {
      res.writeHead(status, toH2Headers(raw));
    },
    write: (chunk) => res.write(chunk),
    end: (chunk) => {
      if (chunk === undefined) res.end();
      else res.end(chunk);
    },
    cork: () => stream.cork(),
    uncork: () => stream.uncork(),
    destroy: () => stream.destroy(),
    addTrailers: (headers) => res.addTrailers(toH2Headers(headers.flat())),
    reset: (code) => {
      // Node reports a stream it closes with an error code as an 'error' on it: expected here.
      stream.once('error', () => undefined);
      if (stream.id !== undefined) onReset?.(stream.id);
      stream.close(code);
    },
    once: (event, listener) => (event === 'drain' ? stream.once('drain', listener) : res.once('close', listener)),
    on: (_event, listener) => res.on('close', listener),
  };
}

export function toH2Headers(raw: readonly string[]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (CONNECTION_SPECIFIC.has(name) || name.startsWith(':')) continue;
    const value = raw[i + 1] as string;
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}
