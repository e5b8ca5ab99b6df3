import type { Readable, Writable } from 'node:stream';

/**
 * How the gateway answers one exchange on the sandbox's side: the response relay and refusals
 * write to this, whatever the protocol. HTTP/1.1's ServerResponse is one; an HTTP/2 stream's
 * compatibility response has the same shape (its status message is ignored).
 */
export interface ResponseSink extends Writable {
  readonly headersSent: boolean;
  writeHead(status: number, message: string | undefined, headers: string[]): unknown;
}

/** The request body as the adapter received it, streamed upstream unless a step read it whole. */
export interface BodySource {
  readonly stream: Readable;
  readonly present: boolean;
}
