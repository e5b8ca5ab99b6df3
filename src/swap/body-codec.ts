import { constants, createBrotliCompress, createBrotliDecompress, createDeflate, createGunzip, createGzip, createInflate } from 'node:zlib';
import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';

/** Content codings the scrubber can see through. Anything else is refused for scrubbed responses. */
export const SCRUBBABLE_CODINGS = ['gzip', 'deflate', 'br'] as const;
export type Coding = (typeof SCRUBBABLE_CODINGS)[number];

/**
 * Every content coding a client will undo, in the order they were applied: all `Content-Encoding`
 * lines, each a comma list (RFC 9110 §8.4: several lines are one list), `identity` dropped. The
 * same coding twice is two layers. Undefined when any coding is one the scrubber cannot read
 * (zstd, compress, an unknown name): such a body must not reach the sandbox unscrubbed.
 */
export function parseCodings(values: readonly string[]): Coding[] | undefined {
  const out: Coding[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const v = part.trim().toLowerCase();
      if (v === '' || v === 'identity') continue;
      const coding = v === 'x-gzip' ? 'gzip' : v;
      if (!(SCRUBBABLE_CODINGS as readonly string[]).includes(coding)) return undefined;
      out.push(coding as Coding);
    }
  }
  return out;
}

/**
 * Whether a response's transfer codings are only chunked framing (which the HTTP parser undoes).
 * Anything else (`gzip, chunked`) is a layer some clients decode and the scrubber would not see.
 */
export function onlyChunked(values: readonly string[]): boolean {
  return values.every((value) => value.split(',').every((part) => ['', 'chunked'].includes(part.trim().toLowerCase())));
}

/** Decoders for a body with these codings (the last applied first) and encoders to redo them. */
export function codecChain(codings: readonly Coding[]): { decoders: Transform[]; encoders: Transform[] } {
  const codecs = codings.map(codecFor);
  return { decoders: codecs.map((c) => c.decode).reverse(), encoders: codecs.map((c) => c.encode) };
}

/**
 * Decoder and encoder for one coding. Encoders flush on every write so that a compressed event
 * stream still reaches the client event by event.
 */
function codecFor(coding: Coding): { decode: Transform; encode: Transform } {
  const flush = { flush: constants.Z_SYNC_FLUSH };
  switch (coding) {
    case 'gzip':
      return { decode: createGunzip(), encode: createGzip(flush) };
    case 'deflate':
      return { decode: createInflate(), encode: createDeflate(flush) };
    case 'br':
      return { decode: createBrotliDecompress(), encode: createBrotliCompress({ flush: constants.BROTLI_OPERATION_FLUSH }) };
  }
}

/**
 * Node's streaming zlib has no output cap: count what comes out of the decoder and stop a body
 * that inflates beyond `maxRatio` times its compressed size (plus a floor for small bodies).
 */
export class InflationGuard extends Transform {
  private out = 0;

  constructor(private readonly compressedBytes: () => number, private readonly maxRatio = 200, private readonly floor = 16 * 1024 * 1024) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.out += chunk.length;
    if (this.out > this.floor && this.out > this.compressedBytes() * this.maxRatio) {
      done(new GatewayError('GW_UPSTREAM_PROTOCOL', 'response decompression ratio exceeded'));
      return;
    }
    done(null, chunk);
  }
}

/** Keeps only the codings we can decode in a swapped request's Accept-Encoding. */
export function restrictAcceptEncoding(value: string): string {
  const kept = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => {
      const name = part.split(';', 1)[0]?.trim().toLowerCase() ?? '';
      return name === 'identity' || name === 'x-gzip' || (SCRUBBABLE_CODINGS as readonly string[]).includes(name);
    });
  return kept.length > 0 ? kept.join(', ') : 'identity';
}
