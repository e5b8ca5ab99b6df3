import type { Readable } from 'node:stream';

/**
 * How the gateway answers one exchange on the sandbox's side: the response relay and refusals
 * write to this, whatever the protocol. HTTP/1.1's ServerResponse is one as it is; an HTTP/2
 * stream is one through h2-sink.ts (no status message, no connection-specific fields).
 */
export interface ResponseSink {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly writableFinished: boolean;
  readonly writableNeedDrain: boolean;
  /** `headers` as a flat name, value list. */
  writeHead(status: number, message: string | undefined, headers: string[]): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): unknown;
  cork(): void;
  uncork(): void;
  destroy(): unknown;
  /** Trailer fields sent after the body (HTTP/2 trailing HEADERS; HTTP/1.1 chunked trailers). */
  addTrailers?(headers: [string, string][]): void;
  /** Ends the stream with RST_STREAM and this code, where the protocol has one (HTTP/2). */
  reset?(code: number): void;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

/** The request body as the adapter received it, streamed upstream unless a step read it whole. */
export interface BodySource {
  readonly stream: Readable;
  readonly present: boolean;
  /** The request's trailer fields once the body has ended (HTTP/2 streams carry them). */
  trailers?(): [string, string][] | undefined;
}
