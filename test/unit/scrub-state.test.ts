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

  it('passes a chunk without a match through without copying it', () => {
    const s = new Scrubber([{ real, standIn: token }]);
    const chunk = Buffer.from('no value here\n');
    expect(s.state().push(chunk).buffer).toBe(chunk.buffer);
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
