import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { findTokens } from '../../src/swap/find-tokens.js';
import { generateToken } from '../../src/model/token-format.js';

// Text around a token: anything but token characters at the edges, so the boundaries are real.
const filler = fc.string({ maxLength: 30 }).map((s) => s.replace(/standin_/g, 'x'));
const delimiter = fc.constantFrom(' ', ',', ';', '"', "'", '=', ':', '\t', '(', ')', '/', '.');
const prefix = fc.constantFrom('', 'sk-', 'sk-ant-', 'ghp_', 'hf_', 'xoxb-');

describe('findTokens properties', () => {
  it('finds a token written anywhere in a header value, whole, with its prefix, and nothing else', () => {
    fc.assert(
      fc.property(filler, delimiter, prefix, delimiter, filler, (before, d1, p, d2, after) => {
        const token = generateToken(p);
        const value = `${before}${d1}${token}${d2}${after}`;
        const found = findTokens([['X-Any', value]], '/');
        expect(found).toHaveLength(1);
        expect(found[0]).toMatchObject({ token, malformed: false, location: { kind: 'header', name: 'x-any' } });
      }),
      { numRuns: 500 },
    );
  });

  it('a token followed by any token character is malformed, never a match of the real token', () => {
    fc.assert(
      fc.property(prefix, fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/), (p, extra) => {
        const token = generateToken(p);
        const found = findTokens([['Authorization', `Bearer ${token}${extra}`]], '/');
        expect(found).toHaveLength(1);
        expect(found[0]?.malformed).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a token preceded by token characters is read as a different (unknown) token', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/), (glued) => {
        const token = generateToken();
        const found = findTokens([['x-api-key', `${glued}${token}`]], '/');
        expect(found).toHaveLength(1);
        expect(found[0]?.token).not.toBe(token);
        expect(found[0]?.token.endsWith(token)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('percent-encoding a token in a query value does not hide it; cookies and paths are never searched', () => {
    fc.assert(
      fc.property(prefix, fc.boolean(), (p, encodeAll) => {
        const token = generateToken(p);
        const encoded = encodeAll ? [...token].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('') : encodeURIComponent(token);
        const found = findTokens([['Cookie', `s=${token}`]], `/a/${token}/b?q=1&key=${encoded}`);
        expect(found).toHaveLength(1);
        expect(found[0]).toMatchObject({ token, location: { kind: 'query', param: 'key' } });
      }),
      { numRuns: 300 },
    );
  });
});
