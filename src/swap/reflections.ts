import type { Reflection } from './schemes/scheme.js';

/**
 * The forms a real value commonly takes when a server reflects it: as written, percent-encoded
 * once or twice (a URL inside a URL parameter), with lower-case hex, form-encoded, JSON-escaped
 * (as JavaScript does it, with `\/` as PHP does, with `\u0026`-style escapes as Go does),
 * HTML-escaped, hex, base64 and base64url — alone, and inside longer base64 text at any alignment.
 * Each real form is replaced by the same form of the stand-in.
 * Forms that equal another (most keys are letters, digits, `-` and `_`) are kept once.
 */
const FORMS: ((s: string) => string)[] = [
  (s) => s,
  (s) => encodeURIComponent(s),
  (s) => encodeURIComponent(encodeURIComponent(s)),
  (s) => lowerHex(encodeURIComponent(s)),
  (s) => lowerHex(encodeURIComponent(encodeURIComponent(s))),
  (s) => new URLSearchParams({ v: s }).toString().slice(2),
  (s) => jsonBody(s),
  (s) => jsonBody(s).replace(/\//g, '\\/'),
  (s) => jsonBody(s).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`),
  (s) => s.replace(/[&<>"']/g, (c) => HTML[c] ?? c),
  (s) => Buffer.from(s, 'utf8').toString('base64'),
  (s) => Buffer.from(s, 'utf8').toString('base64url'),
  (s) => Buffer.from(s, 'utf8').toString('hex'),
  (s) => Buffer.from(s, 'utf8').toString('hex').toUpperCase(),
  // The value inside a longer base64 text (`Bearer <value>`, a JSON document) at each of the three
  // byte alignments: the whole groups that only the value's bytes make up.
  ...[0, 1, 2].flatMap((offset) => [
    (s: string) => base64Core(s, offset, 'base64'),
    (s: string) => base64Core(s, offset, 'base64url'),
  ]),
];

// Shorter cores would match by chance in ordinary base64 text.
const MIN_CORE = 8;

/**
 * The base64 characters that encode `s` alone when it starts `offset` bytes (mod 3) after the
 * start of the encoded text: whole 3-byte groups of its own bytes, without the partial groups it
 * shares with its neighbours. Replaced by the same core of the stand-in, the text around it still
 * decodes (cores are whole 4-character groups).
 */
function base64Core(s: string, offset: number, encoding: 'base64' | 'base64url'): string {
  const bytes = Buffer.from(s, 'utf8');
  const skip = (3 - offset) % 3;
  const whole = Math.floor((bytes.length - skip) / 3) * 3;
  if (whole <= 0) return '';
  const core = bytes.subarray(skip, skip + whole).toString(encoding);
  return core.length >= MIN_CORE ? core : '';
}

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function jsonBody(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

export function expandReflections(reflections: readonly Reflection[]): Reflection[] {
  const out: Reflection[] = [];
  const seen = new Set<string>();
  for (const r of reflections) {
    for (const form of FORMS) {
      const real = form(r.real);
      if (real === '' || seen.has(real)) continue;
      seen.add(real);
      out.push({ real, standIn: form(r.standIn) });
    }
  }
  return out;
}

function lowerHex(s: string): string {
  return s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
}
