import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { GrpcScrubState, isGrpc } from '../../src/swap/grpc-frames.js';
import { Scrubber } from '../../src/swap/scrubber.js';

const REAL = 'sk-real-grpc-frames-0123456789';
const scrubber = Scrubber.sameLength([{ real: REAL, standIn: 'standin-token' }]);

function frame(message: Buffer, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** Splits a buffer into pieces of the given sizes (cycled): DATA frames cut anywhere. */
function cut(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < buf.length; i++) {
    const n = sizes[i % sizes.length] ?? 1;
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

function messages(body: Buffer): { flag: number; message: Buffer }[] {
  const out: { flag: number; message: Buffer }[] = [];
  for (let pos = 0; pos < body.length; ) {
    const length = body.readUInt32BE(pos + 1);
    out.push({ flag: body[pos] ?? -1, message: body.subarray(pos + 5, pos + 5 + length) });
    pos += 5 + length;
  }
  return out;
}

describe('gRPC framing-safe scrubbing', () => {
  it('recognises gRPC content types', () => {
    for (const t of ['application/grpc', 'application/grpc+proto', 'application/grpc-web+proto', 'application/grpc; charset=x']) expect(isGrpc(t)).toBe(true);
    for (const t of ['application/json', 'application/grpcx', undefined]) expect(isGrpc(t)).toBe(false);
  });

  it('scrubs in place across any cut, lengths and prefixes unchanged', () => {
    const body = Buffer.concat([frame(Buffer.from(`hello ${REAL} world`)), frame(Buffer.alloc(0)), frame(Buffer.from(`${REAL}${REAL}`))]);
    for (const sizes of [[1], [2, 3], [5], [7, 1, 13], [1000]]) {
      const state = new GrpcScrubState(scrubber, undefined);
      const out = Buffer.concat([...cut(body, sizes).map((c) => state.push(c)), state.end()]);
      expect(out.length).toBe(body.length);
      expect(out.toString('latin1')).not.toContain(REAL);
      const ms = messages(out);
      expect(ms.map((m) => m.message.toString())).toEqual([`hello ${'*'.repeat(REAL.length)} world`, '', '*'.repeat(REAL.length * 2)]);
    }
  });

  it('a compressed message is decompressed, scrubbed and re-framed uncompressed', () => {
    const body = frame(gzipSync(`zipped ${REAL} end`), true);
    const state = new GrpcScrubState(scrubber, 'gzip');
    const out = Buffer.concat([...cut(body, [3]).map((c) => state.push(c)), state.end()]);
    expect(messages(out)).toEqual([{ flag: 0, message: Buffer.from(`zipped ${'*'.repeat(REAL.length)} end`) }]);
  });

  it('refuses what it cannot read: unknown compression, oversized or cut-short messages', () => {
    const refusal = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(GatewayError);
        return `${(e as GatewayError).code} ${(e as GatewayError).detail ?? ''}`;
      }
      return 'no error';
    };
    expect(refusal(() => new GrpcScrubState(scrubber, 'snappy').push(frame(Buffer.from('x'), true)))).toMatch(/^GW_UPSTREAM_PROTOCOL .*compression/);
    const big = Buffer.alloc(5);
    big.writeUInt32BE(5 * 1024 * 1024, 1);
    expect(refusal(() => new GrpcScrubState(scrubber, undefined).push(big))).toMatch(/^GW_UPSTREAM_PROTOCOL .*too large/);
    const short = new GrpcScrubState(scrubber, undefined);
    short.push(frame(Buffer.from('abcdef')).subarray(0, 8));
    expect(refusal(() => short.end())).toMatch(/^GW_UPSTREAM_PROTOCOL .*cut short/);
  });
});
