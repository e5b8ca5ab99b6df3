import { gunzipSync, inflateSync } from 'node:zlib';
import { GatewayError } from '../errors.js';
import type { Scrubber, ScrubState } from './scrubber.js';

/** gRPC's receive limit by default (grpc-js, grpc-core): a larger message is refused. */
export const GRPC_MAX_MESSAGE = 4 * 1024 * 1024;

const PREFIX = 5;
const EMPTY = Buffer.alloc(0);

/** Whether a content type is gRPC's length-prefixed framing (application/grpc, +proto, +json, grpc-web). */
export function isGrpc(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/grpc(?:-web)?(?:[+;]|$)/i.test(contentType.trim());
}

/**
 * Scrubs a gRPC body (a stream of messages, each a 1-byte compressed flag, a 4-byte big-endian
 * length and the message) without breaking its framing: an uncompressed message is scrubbed in
 * place by a same-length scrubber (Scrubber.sameLength), streamed, across DATA frames, its prefix
 * unchanged; a compressed one (gzip or deflate, per `grpc-encoding`) is held whole (at most
 * GRPC_MAX_MESSAGE, decompressed to at most as much), scrubbed, and re-framed uncompressed
 * (flag 0 is valid whatever grpc-encoding says). Any other compression cannot be read and so is
 * refused: such a message must not reach the sandbox unscrubbed.
 */
export class GrpcScrubState {
  // Bytes of the prefix being read, or of a compressed message being collected.
  private head: Buffer = EMPTY;
  private remaining = 0;
  private compressed = false;
  private collected: Buffer[] = [];
  private collectedBytes = 0;
  private state: ScrubState | undefined;

  constructor(
    private readonly scrubber: Scrubber,
    private readonly encoding: string | undefined,
  ) {}

  /** Scrubbed output for `chunk`; throws GW_UPSTREAM_PROTOCOL on a message it cannot scrub. */
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === undefined && !this.compressed) {
        // Reading a prefix (possibly split across chunks).
        const need = PREFIX - this.head.length;
        const take = chunk.subarray(pos, pos + need);
        this.head = this.head.length === 0 ? Buffer.from(take) : Buffer.concat([this.head, take]);
        pos += take.length;
        if (this.head.length < PREFIX) break;
        this.begin(out);
        continue;
      }
      const take = chunk.subarray(pos, pos + this.remaining);
      pos += take.length;
      this.remaining -= take.length;
      if (this.compressed) {
        this.collected.push(take);
        this.collectedBytes += take.length;
      } else if (this.state !== undefined) out.push(this.state.push(take));
      if (this.remaining === 0) this.finish(out);
    }
    return out.length === 1 && out[0] !== undefined ? out[0] : Buffer.concat(out);
  }

  /** The end of the body: a message cut short is a protocol error (the client would refuse it too). */
  end(): Buffer {
    if (this.head.length > 0 || this.remaining > 0 || this.state !== undefined || this.compressed) {
      throw new GatewayError('GW_UPSTREAM_PROTOCOL', 'grpc message cut short');
    }
    return EMPTY;
  }

  private begin(out: Buffer[]): void {
    const flag = this.head[0] ?? 0;
    const length = this.head.readUInt32BE(1);
    if (length > GRPC_MAX_MESSAGE) throw new GatewayError('GW_UPSTREAM_PROTOCOL', 'grpc message too large to scrub');
    this.remaining = length;
    if ((flag & 1) === 1) {
      this.compressed = true;
      this.collected = [];
      this.collectedBytes = 0;
    } else {
      out.push(this.head);
      this.state = this.scrubber.state();
    }
    this.head = EMPTY;
    if (length === 0) this.finish(out);
  }

  private finish(out: Buffer[]): void {
    if (this.state !== undefined) {
      out.push(this.state.end());
      this.state = undefined;
      return;
    }
    const raw = Buffer.concat(this.collected, this.collectedBytes);
    const message = this.scrubber.scrubChunk(raw.length === 0 ? raw : this.decompress(raw), true).out;
    this.compressed = false;
    this.collected = [];
    const prefix = Buffer.alloc(PREFIX);
    prefix.writeUInt32BE(message.length, 1);
    out.push(prefix, message);
  }

  private decompress(body: Buffer): Buffer {
    const enc = (this.encoding ?? '').trim().toLowerCase();
    try {
      if (enc === 'gzip') return gunzipSync(body, { maxOutputLength: GRPC_MAX_MESSAGE });
      if (enc === 'deflate') return inflateSync(body, { maxOutputLength: GRPC_MAX_MESSAGE });
    } catch {
      throw new GatewayError('GW_UPSTREAM_PROTOCOL', 'grpc message does not decompress');
    }
    throw new GatewayError('GW_UPSTREAM_PROTOCOL', 'grpc message compression cannot be scrubbed');
  }
}
