import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Scrubber } from '../../src/swap/scrubber.js';
import { expandReflections } from '../../src/swap/reflections.js';

const real = 'sk-REAL-abcdef0123456789';
const token = 'standin_TOKEN';

async function streamThrough(s: Scrubber, pieces: Buffer[]): Promise<string> {
  return (await buffer(Readable.from(pieces).pipe(s.stream()))).toString('utf8');
}

describe('Scrubber', () => {
  it('replaces every reflected form in strings', () => {
    const s = new Scrubber([{ real, standIn: token }, { real: encodeURIComponent('a b'), standIn: 'T2' }]);
    expect(s.scrubString(`x ${real} y ${real} a%20b`)).toBe(`x ${token} y ${token} T2`);
  });

  it('ignores empty and identical forms', () => {
    expect(new Scrubber([{ real: '', standIn: 'x' }, { real: 'same', standIn: 'same' }]).active).toBe(false);
  });

  it('catches a value split at every possible chunk boundary', async () => {
    const s = new Scrubber([{ real, standIn: token }]);
    const text = Buffer.from(`before ${real} middle ${real} after`);
    for (let cut = 1; cut < text.length; cut++) {
      const out = await streamThrough(s, [text.subarray(0, cut), text.subarray(cut)]);
      expect(out).toBe(`before ${token} middle ${token} after`);
    }
  });

  it('property: for any split of any text with planted values, no value survives and nothing else changes', async () => {
    const s = new Scrubber([{ real, standIn: token }]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.constant(real), fc.constant(real.slice(0, 5))), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 40 }),
        async (parts, sizes) => {
          const text = Buffer.from(parts.join(''));
          const pieces: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < text.length; i++) {
            const n = sizes[i % sizes.length] ?? 1;
            pieces.push(text.subarray(at, at + n));
            at += n;
          }
          const out = await streamThrough(s, pieces);
          expect(out).not.toContain(real);
          expect(out).toBe(text.toString('utf8').split(real).join(token));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds back only a possible partial match, so event streams are not delayed', () => {
    const s = new Scrubber([{ real, standIn: token }]);
    const { out, carry } = s.scrubChunk(Buffer.from('data: 1\n\n'), false);
    expect(out.toString()).toBe('data: 1\n\n');
    expect(carry.length).toBe(0);
    const partial = s.scrubChunk(Buffer.from('data: sk-RE'), false);
    expect(partial.out.toString()).toBe('data: ');
    expect(partial.carry.toString()).toBe('sk-RE');
  });

  it('sameLength masks keep byte lengths (WebSocket framing)', () => {
    const s = Scrubber.sameLength([{ real, standIn: token }]);
    const input = Buffer.from(`{"a":"${real}"}`);
    const { out } = s.scrubChunk(input, true);
    expect(out.length).toBe(input.length);
    expect(out.toString()).not.toContain(real);
  });
});

describe('reflected forms of a value with special characters', () => {
  it('scrubs JavaScript, PHP (\\/) and Go (\\u0026) JSON escapes, HTML escapes and URL forms', () => {
    const real = `k/e&y<1>"2'+ 3`;
    const standIn = 'standin_TOKEN';
    const s = new Scrubber(expandReflections([{ real, standIn }]));
    const forms = [
      real,
      JSON.stringify(real).slice(1, -1),
      JSON.stringify(real).slice(1, -1).replace(/\//g, '\\/'),
      JSON.stringify(real).slice(1, -1).replace(/&/g, '\\u0026').replace(/</g, '\\u003c').replace(/>/g, '\\u003e'),
      real.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;'),
      encodeURIComponent(real),
      new URLSearchParams({ v: real }).toString().slice(2),
    ];
    for (const f of forms) {
      const out = s.scrubString(`before ${f} after`);
      expect(out, f).toContain(standIn);
      expect(out, f).not.toContain(f);
      expect(s.scrubChunk(Buffer.from(`x${f}y`), true).out.toString(), f).not.toContain(f);
    }
  });
});
