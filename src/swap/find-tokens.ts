import { TOKEN_CORE_PREFIX, tokenCorePattern } from '../model/token-format.js';
import type { FoundToken, TokenLocation } from './types.js';
import type { HeaderList } from '../model/headers.js';

const TOKEN_CHAR = /[A-Za-z0-9_-]/;

/**
 * Every stand-in token written where a credential can go: header values (Basic credentials are
 * decoded) and query parameters (percent-decoded). Cookies, the path and bodies are deliberately
 * not searched: tokens there are neither swapped nor refused (a chat history quoting a token must
 * not break every later call).
 *
 * Tokens are matched by their core (`standin_` + 32 base62) and widened to the token characters
 * before it (the provider prefix). Token characters right after the core make it malformed: a
 * token with extra characters is never a partial match of a real one.
 */
export function findTokens(headers: HeaderList, path: string): FoundToken[] {
  const found: FoundToken[] = [];
  headers.forEach(([rawName, value], index) => {
    const name = rawName.toLowerCase();
    if (name === 'cookie') return;
    scan(value, { kind: 'header', index, name }, found);
    if (name === 'authorization') {
      const decoded = decodeBasic(value);
      if (decoded !== undefined) scan(decoded, { kind: 'basic', index }, found);
    }
  });
  queryParams(path).forEach(({ name, value }, paramIndex) => {
    scan(value, { kind: 'query', param: name, paramIndex }, found);
  });
  return found;
}

/**
 * Stand-ins inside the path's segments (not its query: findTokens reads that). Opt-in: they count
 * only for secrets whose scheme places the credential in the path (Scheme.searches).
 */
export function findPathTokens(path: string): FoundToken[] {
  const found: FoundToken[] = [];
  pathSegments(path).forEach((segment, index) => {
    if (segment.includes(TOKEN_MARK)) scan(segment, { kind: 'path', segment: index }, found, true);
  });
  return found;
}

/** The path part (before `?`) split on '/': index 0 is what precedes the first '/'. */
export function pathSegments(path: string): string[] {
  const q = path.indexOf('?');
  return (q < 0 ? path : path.slice(0, q)).split('/');
}

/** The path with each segment holding a token core shown as `[redacted]`, the query as is. */
export function redactPathSegments(path: string): string {
  if (!path.includes(TOKEN_MARK)) return path;
  const q = path.indexOf('?');
  const segments = pathSegments(path).map((s) => (tokenCorePattern().test(s) ? '[redacted]' : s));
  return `${segments.join('/')}${q < 0 ? '' : path.slice(q)}`;
}

/** Tokens in a piece of a body (a field value, a JSON string), found at `location`. */
export function scanBody(text: string, location: TokenLocation, out: FoundToken[]): void {
  if (text.includes(TOKEN_MARK)) scan(text, location, out, true);
}

/**
 * `text` with each occurrence of `token` that is not followed by a token character replaced by
 * `value` (a token with extra characters after it is malformed, never a partial match), and
 * whether any was.
 */
export function replaceToken(text: string, token: string, value: string): { text: string; replaced: boolean } {
  let out = '';
  let at = 0;
  let replaced = false;
  for (let i = text.indexOf(token); i >= 0; i = text.indexOf(token, i + token.length)) {
    if (TOKEN_CHAR.test(text.charAt(i + token.length))) continue;
    out += text.slice(at, i) + value;
    at = i + token.length;
    replaced = true;
  }
  return { text: out + text.slice(at), replaced };
}

/** True when `s` holds anything token-shaped (used to refuse tokens over cleartext). */
export function containsTokenCore(s: string): boolean {
  return tokenCorePattern().test(s);
}

// Cheap pre-check before the regular expression: every token core contains it.
const TOKEN_MARK = TOKEN_CORE_PREFIX;

function scan(text: string, location: TokenLocation, out: FoundToken[], optIn = false): void {
  for (const m of text.matchAll(tokenCorePattern())) {
    const start = m.index;
    const end = start + m[0].length;
    let from = start;
    while (from > 0 && TOKEN_CHAR.test(text.charAt(from - 1))) from--;
    const malformed = end < text.length && TOKEN_CHAR.test(text.charAt(end));
    out.push(optIn ? { token: text.slice(from, end), location, malformed, optIn } : { token: text.slice(from, end), location, malformed });
  }
}

/** `Basic <b64>` → decoded `user:password`, or undefined when it is not Basic credentials. */
export function decodeBasic(value: string): string | undefined {
  const m = /^basic[ \t]+([A-Za-z0-9+/=_-]+)[ \t]*$/i.exec(value);
  if (!m || m[1] === undefined) return undefined;
  return Buffer.from(m[1], 'base64').toString('latin1');
}

export interface QueryParam {
  name: string; // percent-decoded
  value: string; // percent-decoded ('+' is not a space here: it is not in any token)
  raw: string; // the parameter as written
}

export function queryParams(path: string): QueryParam[] {
  const q = path.indexOf('?');
  if (q < 0) return [];
  const query = path.slice(q + 1).split('#', 1)[0] ?? '';
  if (query === '') return [];
  return query.split('&').map((raw) => {
    const eq = raw.indexOf('=');
    const name = eq < 0 ? raw : raw.slice(0, eq);
    const value = eq < 0 ? '' : raw.slice(eq + 1);
    return { name: percentDecode(name), value: percentDecode(value), raw };
  });
}

/** Lenient percent-decoding: malformed escapes stay as written instead of throwing. */
export function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}
