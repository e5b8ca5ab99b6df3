import { percentDecode, replaceToken, scanBody } from './find-tokens.js';
import type { FoundToken } from './types.js';
import { jsonStringSpans } from './json-spans.js';
import { multipartParts, replacePartContent } from './multipart.js';

/**
 * Request bodies as credential places: which bodies the gateway reads (forms, multipart forms,
 * JSON), the stand-ins in their fields, and a field's value replaced with every other byte kept
 * as sent (a JSON body is edited in place, never re-serialised: numbers and key order survive).
 */
export type BodyKind = { format: 'form'; multipart?: undefined } | { format: 'form'; multipart: string } | { format: 'json' };

/** The body's kind from its Content-Type; undefined for a type the gateway does not read. */
export function bodyKind(contentType: string | undefined): BodyKind | undefined {
  const [type = '', ...params] = (contentType ?? '').split(';').map((s) => s.trim());
  const t = type.toLowerCase();
  if (t === 'application/x-www-form-urlencoded') return { format: 'form' };
  if (t === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(t)) return { format: 'json' };
  if (t === 'multipart/form-data') {
    const b = params.map((p) => /^boundary=(?:"([^"]{1,70})"|([^\s";]{1,70}))$/i.exec(p)).find((m) => m !== null);
    const boundary = b?.[1] ?? b?.[2];
    return boundary === undefined ? undefined : { format: 'form', multipart: boundary };
  }
  return undefined;
}

/**
 * The stand-ins of a body of a kind the gateway reads, each with the field it is in (null where it
 * is not in a field value); undefined when the body does not parse as its kind says.
 */
export function findBodyTokens(kind: BodyKind, body: Buffer): FoundToken[] | undefined {
  const out: FoundToken[] = [];
  if (kind.format === 'json') {
    const text = utf8(body);
    const spans = text === undefined ? undefined : jsonStringSpans(text);
    if (text === undefined || spans === undefined) return undefined;
    for (const s of spans) {
      const location = { kind: 'body' as const, format: s.path === null ? null : ('json' as const), field: s.path };
      scanBody(text.slice(s.start, s.end), location, out);
    }
    return out;
  }
  if (kind.multipart !== undefined) {
    const parts = multipartParts(body.toString('latin1'), kind.multipart);
    if (parts === undefined) return undefined;
    for (const p of parts) {
      scanBody(p.head, { kind: 'body', format: null, field: null }, out);
      scanBody(p.content, { kind: 'body', format: p.name === null ? null : 'form', field: p.name }, out);
    }
    return out;
  }
  for (const pair of formPairs(body.toString('latin1'))) {
    scanBody(pair.name, { kind: 'body', format: null, field: null }, out);
    scanBody(pair.value, { kind: 'body', format: 'form', field: pair.name }, out);
  }
  return out;
}

/**
 * The body with `token` replaced by `value` inside field `field`, and the form of the value as it
 * now stands in the body (for the scrubber); undefined when the field holds no such token.
 */
export function replaceInField(kind: BodyKind, body: Buffer, field: string, token: string, value: string): { body: Buffer; written: string } | undefined {
  if (kind.format === 'json') {
    const text = utf8(body);
    const spans = text === undefined ? undefined : jsonStringSpans(text);
    if (text === undefined || spans === undefined) return undefined;
    const written = JSON.stringify(value).slice(1, -1);
    let out = '';
    let at = 0;
    let hit = false;
    for (const s of spans) {
      if (s.path !== field) continue;
      // The literal as written, with the token swapped: the rest of its escapes stay as they were.
      const r = replaceToken(text.slice(s.start, s.end), token, written);
      if (!r.replaced) continue;
      out += text.slice(at, s.start) + r.text;
      at = s.end;
      hit = true;
    }
    return hit ? { body: Buffer.from(out + text.slice(at), 'utf8'), written } : undefined;
  }
  if (kind.multipart !== undefined) {
    const raw = body.toString('latin1');
    const parts = multipartParts(raw, kind.multipart);
    const written = Buffer.from(value, 'utf8').toString('latin1');
    // Parts are replaced last to first, so that the offsets of the earlier ones still hold.
    let out = raw;
    let hit = false;
    for (const p of [...(parts ?? [])].reverse()) {
      const r = p.name === field ? replaceToken(p.content, token, written) : undefined;
      if (r === undefined || !r.replaced) continue;
      out = replacePartContent(out, p, r.text);
      hit = true;
    }
    return hit ? { body: Buffer.from(out, 'latin1'), written: value } : undefined;
  }
  const pairs = formPairs(body.toString('latin1'));
  let hit = false;
  const written = encodeFormValue(value);
  const raw = pairs.map((p) => {
    const r = p.name === field ? replaceToken(p.value, token, value) : undefined;
    if (r === undefined || !r.replaced) return p.raw;
    hit = true;
    return `${p.rawName}=${encodeFormValue(r.text)}`;
  });
  return hit ? { body: Buffer.from(raw.join('&'), 'latin1'), written } : undefined;
}

interface FormPair {
  name: string;
  value: string;
  rawName: string;
  raw: string;
}

// application/x-www-form-urlencoded (WHATWG URL): '+' is a space, then percent-decoding as UTF-8.
function formPairs(text: string): FormPair[] {
  if (text === '') return [];
  return text.split('&').map((raw) => {
    const eq = raw.indexOf('=');
    const rawName = eq < 0 ? raw : raw.slice(0, eq);
    const rawValue = eq < 0 ? '' : raw.slice(eq + 1);
    const decode = (s: string): string => percentDecode(s.replace(/\+/g, ' '));
    return { name: decode(rawName), value: decode(rawValue), rawName, raw };
  });
}

/** A form value as browsers write it: percent-encoded UTF-8, spaces as '+'. */
export function encodeFormValue(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

function utf8(body: Buffer): string | undefined {
  const text = body.toString('utf8');
  // A body that is not valid UTF-8 would not survive the round trip byte for byte.
  return Buffer.from(text, 'utf8').equals(body) ? text : undefined;
}
