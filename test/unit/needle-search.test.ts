import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NeedleSearch } from '../../src/swap/needle-search.js';

interface N { find: Buffer; id: number }

function naive(needles: readonly N[], buf: Buffer, from: number): { index: number; id: number } | undefined {
  let best: { index: number; id: number } | undefined;
  for (const n of needles) {
    const index = buf.indexOf(n.find, from);
    if (index >= 0 && (best === undefined || index < best.index)) best = { index, id: n.id };
  }
  return best;
}

describe('NeedleSearch', () => {
  it('property: finds the same first match as one indexOf per needle (longest wins at a tie), for few and many needles', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom('a', 'b', 'c', 'A', '=') }), { minLength: 1, maxLength: 40 }),
        fc.string({ maxLength: 300, unit: fc.constantFrom('a', 'b', 'c', 'A', '=', 'x') }),
        fc.nat({ max: 50 }),
        (raw, text, from) => {
          const needles = [...new Set(raw)].sort((a, b) => b.length - a.length).map((s, id) => ({ find: Buffer.from(s), id }));
          const buf = Buffer.from(text);
          const got = new NeedleSearch(needles).first(buf, from);
          const want = naive(needles, buf, from);
          expect(got === undefined ? undefined : { index: got.index, id: got.needle.id }).toEqual(want);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('finds needles at the very start and end of a buffer and in long random text', () => {
    const needles = Array.from({ length: 60 }, (_, i) => ({ find: Buffer.from(`needle-${i}-${'q'.repeat(i % 7)}-end`), id: i })).sort((a, b) => b.find.length - a.find.length);
    const search = new NeedleSearch(needles);
    for (const n of needles) {
      const text = Buffer.concat([Buffer.from('z'.repeat(5000)), n.find, Buffer.from('z'.repeat(3))]);
      expect(search.first(text, 0)?.index).toBe(5000);
      expect(search.first(n.find, 0)?.index).toBe(0);
      expect(search.first(text, 5001)).toBeUndefined();
    }
  });
});
