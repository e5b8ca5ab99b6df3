import { describe, expect, it } from 'vitest';
import { FrameHeads, h2ErrorName, type FrameHead } from '../../src/proxy/h2-frames.js';

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

const code = (n: number, at = 0): Buffer => {
  const b = Buffer.alloc(at + 4);
  b.writeUInt32BE(n, at);
  return b;
};

describe('frame heads read off the wire', () => {
  const wire = Buffer.concat([
    Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    frame(4, 0, 0, Buffer.alloc(6)),
    frame(0, 1, 1, Buffer.alloc(20_000, 7)),
    frame(3, 0, 3, code(8)),
    frame(6, 0, 0, Buffer.alloc(8)),
    frame(7, 0, 0, Buffer.concat([code(5), code(11), Buffer.from('debug data')])),
    frame(9, 4, 5, Buffer.alloc(0)),
  ]);
  const expected: FrameHead[] = [
    { type: 4, flags: 0, streamId: 0 },
    { type: 0, flags: 1, streamId: 1 },
    { type: 3, flags: 0, streamId: 3, errorCode: 8 },
    { type: 6, flags: 0, streamId: 0 },
    { type: 7, flags: 0, streamId: 0, errorCode: 11 },
    { type: 9, flags: 4, streamId: 5 },
  ];

  for (const size of [1, 2, 5, 9, 13, 4096, wire.length]) {
    it(`in chunks of ${size} bytes, the preface skipped`, () => {
      const got: FrameHead[] = [];
      const heads = new FrameHeads((f) => got.push({ ...f }), 24);
      for (let i = 0; i < wire.length; i += size) heads.push(wire.subarray(i, i + size));
      expect(got).toEqual(expected);
    });
  }

  it('names error codes', () => {
    expect(h2ErrorName(11)).toBe('ENHANCE_YOUR_CALM');
    expect(h2ErrorName(0x99)).toBe('0x99');
  });
});
