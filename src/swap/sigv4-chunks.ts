import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';
import { sameSignature } from './sigv4-signer.js';

/**
 * aws-chunked with signed chunks (`x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD`),
 * re-signed as it streams: every chunk (`HEX;chunk-signature=SIG\r\nDATA\r\n`, a last empty one)
 * carries a signature chained from the previous one, starting at the request's own (the seed).
 * Each chunk's signature is checked against the client's chain (the stand-in pair) before a byte
 * of it goes on, then replaced by the real chain's. Signatures are the same length, so the body
 * keeps its length and Content-Length stays right. One chunk is held at a time, never the body.
 * The signatures themselves come from the caller (@smithy/signature-v4's event signing).
 */
export interface ChunkSigners {
  /** The signature of `data` chained after `prior`, with the stand-in pair. */
  standIn(data: Buffer, prior: string): Promise<string>;
  /** The same with the real pair. */
  real(data: Buffer, prior: string): Promise<string>;
  /** The client's seed (its Authorization signature, verified). */
  standInSeed: string;
  /** The real seed: the re-signed Authorization's signature, known once signing has run. */
  realSeed(): string;
}

const HEAD = /^([0-9a-fA-F]{1,8});chunk-signature=([0-9a-f]{64})$/;
const MAX_HEAD = 256;
// The SDKs write 64 KiB chunks; S3 accepts up to a part's size. One chunk is held at a time.
const MAX_CHUNK = 16 * 1024 * 1024;

export class ChunkResigner extends Transform {
  #buffer: Buffer = Buffer.alloc(0);
  #standInPrior: string;
  #realPrior: string | undefined;
  #done = false;

  constructor(private readonly signers: ChunkSigners) {
    super();
    this.#standInPrior = signers.standInSeed;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#drain().then(() => done(), (e: unknown) => done(e instanceof Error ? e : new Error('chunk re-signing failed')));
  }

  override _flush(done: TransformCallback): void {
    if (!this.#done || this.#buffer.length > 0) done(new GatewayError('GW_BAD_REQUEST', 'aws-chunked body ended before its last chunk'));
    else done();
  }

  async #drain(): Promise<void> {
    for (;;) {
      if (this.#done) {
        if (this.#buffer.length > 0) throw new GatewayError('GW_BAD_REQUEST', 'bytes after the last aws-chunked chunk');
        return;
      }
      const eol = this.#buffer.indexOf('\r\n');
      if (eol < 0) {
        if (this.#buffer.length > MAX_HEAD) throw new GatewayError('GW_BAD_REQUEST', 'aws-chunked chunk header too long');
        return;
      }
      const head = HEAD.exec(this.#buffer.subarray(0, eol).toString('latin1'));
      if (head === null) throw new GatewayError('GW_BAD_REQUEST', 'malformed aws-chunked chunk header');
      const hex = head[1] ?? '0';
      const size = parseInt(hex, 16);
      if (size > MAX_CHUNK) throw new GatewayError('GW_BODY_TOO_LARGE', 'aws-chunked chunk too large');
      const start = eol + 2;
      if (this.#buffer.length < start + size + 2) return;
      if (this.#buffer[start + size] !== 0x0d || this.#buffer[start + size + 1] !== 0x0a) throw new GatewayError('GW_BAD_REQUEST', 'aws-chunked chunk not followed by CRLF');
      const data = this.#buffer.subarray(start, start + size);
      const expected = await this.signers.standIn(data, this.#standInPrior);
      if (!sameSignature(expected, head[2] ?? '')) throw new GatewayError('GW_SIGNATURE_INVALID', 'aws-chunked chunk signature does not verify with the stand-in secret');
      this.#standInPrior = expected;
      const real = await this.signers.real(data, this.#realPrior ?? this.signers.realSeed());
      this.#realPrior = real;
      this.push(Buffer.concat([Buffer.from(`${hex};chunk-signature=${real}\r\n`, 'latin1'), data, Buffer.from('\r\n', 'latin1')]));
      this.#buffer = this.#buffer.subarray(start + size + 2);
      if (size === 0) this.#done = true;
    }
  }
}
