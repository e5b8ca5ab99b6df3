import { constants, createBrotliCompress, createBrotliDecompress, createDeflate, createGunzip, createGzip, createInflate } from 'node:zlib';
import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';

/** Content codings the scrubber can see through. Anything else is refused for swapped requests. */
export const SCRUBBABLE_CODINGS = ['gzip', 'deflate', 'br'] as const;
export type Coding = (typeof SCRUBBABLE_CODINGS)[number] | 'identity';

export function parseCoding(header: string | undefined): Coding | undefined {
  const v = (header ?? '').trim().toLowerCase();
  if (v === '' || v === 'identity') return 'identity';
  if (v === 'x-gzip') return 'gzip';
  return (SCRUBBABLE_CODINGS as readonly string[]).includes(v) ? (v as Coding) : undefined;
}

/**
 * Decoder and encoder for one coding. Encoders flush on every write so that a compressed event
 * stream still reaches the client event by event.
 */
export function codecFor(coding: Exclude<Coding, 'identity'>): { decode: Transform; encode: Transform } {
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
