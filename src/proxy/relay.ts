import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { ScrubState } from '../swap/scrubber.js';
import type { ResponseSink } from './sink.js';

/**
 * Streams an upstream response body to the client with backpressure, like `pipe`, with two
 * differences that matter on the hot path:
 *
 * - Chunks that arrive in the same turn of the event loop (one socket read decrypts into several
 *   16 KB TLS records, and a small body arrives with its end) leave in one write: the response
 *   is corked until the end of the turn. Each write is a TLS record batch, a syscall and a wakeup
 *   of the client; one per record cost more than the encryption itself.
 * - An optional scrub state replaces a Transform stream and `pipeline`, whose per-response
 *   machinery (an AbortController, end-of-stream watchers, a DOMException on finish) cost more
 *   than a small response's whole relay.
 *
 * Backpressure is checked once per turn: what one read delivers (at most one socket read's worth)
 * is written, then the upstream is paused until the client drains. `open` runs once, before the
 * first byte or the end (the head is written then, so a body that fails to decode before it can
 * still be answered with a problem instead of a cut). `count` sees every chunk as received.
 */
export function relayBody(
  upRes: Readable,
  res: ResponseSink,
  scrub: ScrubState | undefined,
  fail: (e: unknown) => void,
  open?: () => void,
  count?: (bytes: number) => void,
): void {
  let opened = open === undefined;
  const openOnce = (): void => {
    if (opened) return;
    opened = true;
    open?.();
  };
  let corked = false;
  let paused = false;
  const resume = (): void => {
    paused = false;
    upRes.resume();
  };
  const uncork = (): void => {
    corked = false;
    res.uncork();
    if (!paused && res.writableNeedDrain && !res.destroyed) {
      paused = true;
      upRes.pause();
      res.once('drain', resume);
    }
  };
  const writeOut = (out: Buffer): void => {
    openOnce();
    if (!corked) {
      corked = true;
      res.cork();
      process.nextTick(uncork);
    }
    res.write(out);
  };
  upRes.on('data', (chunk: Buffer) => {
    count?.(chunk.length);
    if (res.destroyed) return;
    // The scrubber hands over views of the chunk and its replacements: no copy of the body.
    if (scrub) scrub.write(chunk, writeOut);
    else if (chunk.length > 0) writeOut(chunk);
  });
  upRes.once('end', () => {
    openOnce();
    const tail = scrub?.end();
    if (tail !== undefined && tail.length > 0) res.end(tail);
    else res.end();
  });
  upRes.on('error', fail);
  upRes.once('aborted', () => fail(new GatewayError('GW_UPSTREAM_PROTOCOL', 'response aborted')));
  res.once('close', () => upRes.destroy());
}

/**
 * Collects a body of known, small length and hands it over whole, so that a scrubbed response
 * can keep an exact Content-Length and leave as one write (head and body together) instead of
 * being re-framed as chunks. `limit` bounds what is held, whatever the upstream sends.
 */
export function collectBody(upRes: IncomingMessage, limit: number, fail: (e: unknown) => void, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  upRes.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      upRes.destroy();
      fail(new GatewayError('GW_UPSTREAM_PROTOCOL', 'body longer than announced'));
      return;
    }
    chunks.push(chunk);
  });
  upRes.once('end', () => done(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size)));
  upRes.on('error', fail);
  upRes.once('aborted', () => fail(new GatewayError('GW_UPSTREAM_PROTOCOL', 'response aborted')));
}
