import type { Reflection } from './schemes/scheme.js';

/**
 * The forms a real value commonly takes when a server reflects it: as written, percent-encoded
 * once or twice (a URL inside a URL parameter), with lower-case hex, form-encoded, JSON-escaped
 * (as JavaScript does it, with `\/` as PHP does, with `\u0026`-style escapes as Go does),
 * HTML-escaped, base64 and base64url. Each real form is replaced by the same form of the stand-in.
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
];

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
      if (seen.has(real)) continue;
      seen.add(real);
      out.push({ real, standIn: form(r.standIn) });
    }
  }
  return out;
}

function lowerHex(s: string): string {
  return s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
}
