import { describe, expect, it } from 'vitest';
import { parseHostPattern } from '../../src/policy/host-pattern.js';
import { findProvider, listProviders, tokenPrefixFor } from '../../src/providers/catalog.js';
import { formatSchemeSpec, normalizeSchemeSpec, parseSchemeSpec } from '../../src/swap/scheme-spec.js';
import { findTokens } from '../../src/swap/find-tokens.js';
import { generateToken } from '../../src/model/token-format.js';
import { checkScheme } from '../../src/store/validate.js';

const REQUIRED = ['anthropic', 'openai', 'gemini', 'openrouter', 'github', 'gitlab', 'vercel', 'cloudflare', 'stripe', 'notion', 'resend', 'slack', 'twilio', 'sendgrid', 'huggingface'];

describe('provider catalogue', () => {
  const all = listProviders();

  it('has every provider the issue asks for, sorted, ids unique', () => {
    const ids = all.map((p) => p.id);
    for (const id of REQUIRED) expect(ids).toContain(id);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(listProviders().map((p) => [p.id, p] as const))('%s is a valid preset', (_id, p) => {
    for (const h of p.hosts) expect(() => parseHostPattern(h)).not.toThrow();
    // The scheme survives the text form users see and type, and the store's shape check.
    expect(parseSchemeSpec(formatSchemeSpec(p.scheme))).toEqual(p.scheme);
    expect(checkScheme(p.scheme)).toEqual(p.scheme);
    expect(normalizeSchemeSpec(p.scheme)).toEqual(p.scheme);
    expect(p.env).toMatch(/^[A-Z][A-Z0-9_]*$/);
    expect(p.docs).toMatch(/^https:\/\//);
    // A stand-in with the prefix is found whole by the token finder, prefix included.
    const token = generateToken(p.tokenPrefix);
    expect(token.startsWith(p.tokenPrefix)).toBe(true);
    expect(findTokens([['x', token]], '/').map((f) => [f.token, f.malformed])).toEqual([[token, false]]);
  });

  it('knows the schemes the providers document', () => {
    const scheme = (id: string): string => formatSchemeSpec(findProvider(id)!.scheme);
    expect(scheme('anthropic')).toBe('header:x-api-key,bearer');
    expect(scheme('openai')).toBe('bearer');
    expect(scheme('github')).toBe('bearer,basic:x-access-token');
    expect(scheme('gitlab')).toBe('header:private-token,bearer,basic');
    expect(scheme('twilio')).toBe('basic');
    expect(scheme('stripe')).toBe('bearer,basic');
    expect(findProvider('GitHub')?.hosts).toEqual(['api.github.com', 'github.com', 'uploads.github.com']);
  });

  it('hands out copies', () => {
    const p = findProvider('github')!;
    p.hosts.push('evil.test');
    if (p.scheme.kind === 'multi') (p.scheme['placements'] as unknown[]).pop();
    expect(findProvider('github')?.hosts).toEqual(['api.github.com', 'github.com', 'uploads.github.com']);
    expect(formatSchemeSpec(findProvider('github')!.scheme)).toBe('bearer,basic:x-access-token');
  });

  it('token prefixes by provider id', () => {
    expect(tokenPrefixFor('anthropic')).toBe('sk-ant-');
    expect(tokenPrefixFor(null)).toBe('');
    expect(tokenPrefixFor('nope')).toBe('');
  });
});
