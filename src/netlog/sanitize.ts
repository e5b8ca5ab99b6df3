import { UsageError } from '../errors.js';

/**
 * What may reach the network log and the operator's terminal. A request path is chosen by the
 * sandbox, so it is untrusted twice over: its query values can carry data worth hiding (one-time
 * codes, signed URLs, credentials placed in a query), and its bytes can carry terminal escape
 * sequences aimed at whoever runs `standin log`.
 */

const MAX_PATH = 2048;
const TRUNCATED = '...[truncated]';
const REDACTED = '[redacted]';

// A stand-in's core (`standin_` + 32 base62) with any of its characters percent-encoded, as a
// client may send it anywhere in a URL (a path segment, a parameter name, a bare parameter).
const ENCODED_CORE = new RegExp(
  `${[...'standin_'].map((c) => `(?:${c}|%${c.charCodeAt(0).toString(16)})`).join('')}((?:[A-Za-z0-9]|%[0-9A-Fa-f]{2}){32})`,
  'gi',
);

/**
 * Keeps the path and the query's parameter names; every query value becomes `[redacted]`, and a
 * stand-in anywhere in the URL keeps only its first characters (`standin_Ab12[redacted]`): the log
 * never holds a whole stand-in, but people can still tell which one it was.
 */
export function redactPath(rawPath: string): string {
  // Escaping at most grows a character fourfold; there is no point walking more than can be kept.
  const cut = rawPath.length > MAX_PATH * 2 ? rawPath.slice(0, MAX_PATH * 2) : rawPath;
  const raw = cut.replace(ENCODED_CORE, (_m, rest: string) => `standin_${rest.slice(0, 4).replace(/%/g, '')}${REDACTED}`);
  const q = raw.indexOf('?');
  const redacted = q < 0 ? raw : `${raw.slice(0, q)}?${redactQuery(raw.slice(q + 1))}`;
  return escapeBytes(redacted, MAX_PATH, rawPath.length > cut.length);
}

/** Free text bound for the log (a refusal's reason): short, and a stand-in cut to its prefix. */
export function cutStandIns(text: string, max = 200): string {
  return text
    .slice(0, max * 2)
    .replace(ENCODED_CORE, (_m, rest: string) => `standin_${rest.slice(0, 4).replace(/%/g, '')}${REDACTED}`)
    .slice(0, max);
}

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq < 0 ? part : `${part.slice(0, eq)}=${REDACTED}`;
    })
    .join('&');
}

// Printable ASCII stays; everything else is written as the \xNN of its UTF-8 bytes. The backslash
// is escaped too, so a path cannot pretend to contain an escape it does not.
function escapeBytes(s: string, max: number, alreadyCut: boolean): string {
  const limit = max - TRUNCATED.length;
  let out = '';
  // The longest prefix that still leaves room for the marker, cut between escapes, never inside one.
  let cut: string | undefined;
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    const piece = code >= 0x20 && code < 0x7f && ch !== '\\' ? ch : hexBytes(ch);
    if (cut === undefined && out.length + piece.length > limit) cut = out;
    out += piece;
    if (out.length > max) return (cut ?? '') + TRUNCATED;
  }
  return alreadyCut ? (cut ?? out) + TRUNCATED : out;
}

function hexBytes(ch: string): string {
  let out = '';
  for (const b of Buffer.from(ch, 'utf8')) out += `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

// C0 controls (ESC among them), DEL and C1 controls (0x9b is a one-byte CSI on some terminals).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// Characters that reorder or hide text on screen, so a row could display as something it is not.
const INVISIBLE = /[\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Makes an untrusted field safe to print on a terminal: no escape sequences, no reordering. */
export function escapeForTerminal(s: string): string {
  return s
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(INVISIBLE, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}

const RELATIVE = /^(\d{1,9})([smhd])$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
// Date.parse alone accepts odd forms ("1", "March 7") whose meaning depends on the engine.
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** `--since`: an ISO 8601 time, or an age (`30s`, `15m`, `2h`, `7d`) before `now`. Epoch ms. */
export function parseSince(s: string, now: number = Date.now()): number {
  const t = s.trim();
  const rel = RELATIVE.exec(t);
  if (rel !== null) return now - Number(rel[1]) * (UNIT_MS[rel[2] ?? 's'] ?? 1_000);
  if (ISO.test(t)) {
    const ms = Date.parse(t.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError(
    `invalid --since '${escapeForTerminal(t.slice(0, 64))}': use an ISO 8601 time or an age like 30s, 15m, 2h, 7d`,
  );
}
