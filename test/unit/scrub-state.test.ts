import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReflectionCache } from '../../src/swap/reflection-cache.js';
import { expandReflections } from '../../src/swap/reflections.js';
import { Scrubber } from '../../src/swap/scrubber.js';

// The relay scrubs through ScrubState (no Transform) and small bodies in one piece: both must
// give exactly what the streaming scrubber gives, whatever the chunking.
const real = 'sk-REAL-abcdef0123456789';
const token = 'standin_TOKEN';

function pushAll(s: Scrubber, pieces: Buffer[]): string {
  const st = s.state();
  const out = pieces.map((p) => st.push(p));
  out.push(st.end());
  return Buffer.concat(out).toString('utf8');
}

describe('ScrubState', () => {
  it('property: any split gives the whole-body result, and no real form survives', () => {
    const s = new Scrubber(expandReflections([{ real, standIn: token }]));
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.constant(real), fc.constant(real.slice(0, 7)), fc.constant(Buffer.from(real).toString('base64'))), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 40 }),
        (parts, sizes) => {
          const text = Buffer.from(parts.join(''));
          const pieces: Buffer[] = [];
          for (let i = 0, at = 0; at < text.length; i++) {
            const n = sizes[i % sizes.length] ?? 1;
            pieces.push(text.subarray(at, at + n));
            at += n;
          }
          const whole = s.scrubChunk(text, true).out.toString('utf8');
          const out = pushAll(s, pieces);
          expect(out).toBe(whole);
          expect(out).not.toContain(real);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: chunks longer than a value (searched in place after a held tail) give the whole-body result', () => {
    const s = new Scrubber(expandReflections([{ real, standIn: token }]));
    const b64 = Buffer.from(real).toString('base64');
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.constant(real), fc.constant(real.slice(0, 12)), fc.constant(b64), fc.constant(b64.slice(0, 9))), { maxLength: 16 }),
        fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 20 }),
        (parts, sizes) => {
          const text = Buffer.from(parts.join(''));
          const pieces: Buffer[] = [];
          for (let i = 0, at = 0; at < text.length; i++) {
            const n = sizes[i % sizes.length] ?? 1;
            pieces.push(text.subarray(at, at + n));
            at += n;
          }
          const st = s.state();
          const out: Buffer[] = [];
          for (const p of pieces) st.write(p, (piece) => out.push(piece));
          out.push(st.end());
          const got = Buffer.concat(out).toString('utf8');
          expect(got).toBe(s.scrubChunk(text, true).out.toString('utf8'));
          expect(got).not.toContain(real);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('catches a value straddling two long chunks at every cut, and copies neither chunk', () => {
    const s = new Scrubber(expandReflections([{ real, standIn: token }]));
    const pad = 'x'.repeat(100);
    const text = Buffer.from(`${pad}${real}${pad}`);
    for (let cut = pad.length + 1; cut < pad.length + real.length; cut++) {
      const first = text.subarray(0, cut);
      const second = text.subarray(cut);
      const st = s.state();
      const pieces: Buffer[] = [];
      st.write(first, (p) => pieces.push(p));
      st.write(second, (p) => pieces.push(p));
      pieces.push(st.end());
      expect(Buffer.concat(pieces).toString('utf8')).toBe(`${pad}${token}${pad}`);
      // Every piece is a view of an input chunk or the shared replacement: nothing was copied.
      for (const p of pieces) if (p.length > 0 && p.toString() !== token) expect(p.buffer).toBe(text.buffer);
    }
  });

  it('catches a value spread over a long chunk, a short one and a long one', () => {
    const s = new Scrubber(expandReflections([{ real, standIn: token }]));
    const pad = 'y'.repeat(64);
    const st = s.state();
    const out = [st.push(Buffer.from(pad + real.slice(0, 5))), st.push(Buffer.from(real.slice(5, 9))), st.push(Buffer.from(real.slice(9) + pad)), st.end()];
    expect(Buffer.concat(out).toString('utf8')).toBe(pad + token + pad);
  });

  it('passes a chunk without a match through without copying it', () => {
    const s = new Scrubber([{ real, standIn: token }]);
    const chunk = Buffer.from('no value here\n');
    expect(s.state().push(chunk).buffer).toBe(chunk.buffer);
    // Through write(), the relay's path: the chunk itself, not even a view of it.
    const pieces: Buffer[] = [];
    s.state().write(chunk, (p) => pieces.push(p));
    expect(pieces).toHaveLength(1);
    expect(pieces[0]).toBe(chunk);
  });
});

describe('ReflectionCache', () => {
  it('expands once per set of pairs and shares the scrubber', () => {
    const cache = new ReflectionCache(2);
    const a = cache.expand([{ real, standIn: token }]);
    expect(cache.expand([{ real, standIn: token }])).toBe(a);
    expect(a).toEqual(expandReflections([{ real, standIn: token }]));
    expect(cache.scrubber(a)).toBe(cache.scrubber(a));
    expect(cache.expand([{ real: 'other-value', standIn: token }])).not.toBe(a);
  });
});
