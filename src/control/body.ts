import type { IncomingMessage } from 'node:http';
import { ControlError } from './problem.js';

/**
 * Request bodies: JSON only, bounded, checked against a small field table that also feeds the
 * OpenAPI document. Every problem of a body is reported at once; unknown fields are refused (a
 * typo like `allowhosts` must not silently mean "any host"). Values are never echoed.
 */
export const MAX_BODY_BYTES = 64 * 1024;

export type FieldType = 'string' | 'string[]' | 'string-map';

export interface FieldSpec {
  type: FieldType;
  required: boolean;
  description: string;
  /** Longest string (or list) accepted. */
  max?: number;
  /** Never echoed, never logged (a secret value). */
  writeOnly?: boolean;
}

export type BodySpec = Record<string, FieldSpec>;

type TypeOf<F extends FieldSpec> = F['type'] extends 'string' ? string : F['type'] extends 'string[]' ? string[] : Record<string, string>;

export type Parsed<S extends BodySpec> = { [K in keyof S as S[K]['required'] extends true ? K : never]: TypeOf<S[K]> } & {
  [K in keyof S as S[K]['required'] extends true ? never : K]?: TypeOf<S[K]>;
};

/** Reads the body (at most MAX_BODY_BYTES) and parses it as JSON; an empty body is `undefined`. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) throw new ControlError('CTL_BODY_TOO_LARGE', `at most ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ControlError('CTL_BODY_TOO_LARGE', `at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new ControlError('CTL_UNSUPPORTED_MEDIA_TYPE');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    // JSON.parse's message quotes the input, which may hold a value.
    throw new ControlError('CTL_BAD_JSON');
  }
}

export type Refine<S extends BodySpec> = (fields: Partial<Parsed<S>>, problem: (field: string, message: string) => void) => void;

/**
 * Checks a parsed body against `spec`, then `refine` (meaning: names, host patterns, schemes) on
 * the fields that have the right type; throws one CTL_INVALID listing every problem of both.
 */
export function validate<S extends BodySpec>(body: unknown, spec: S, refine?: Refine<S>): Parsed<S> {
  const problems: { field: string; message: string }[] = [];
  const input = body === undefined ? {} : body;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ControlError('CTL_INVALID', 'request body must be a JSON object', [{ field: '', message: 'must be an object' }]);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(spec, key)) problems.push({ field: safeField(key), message: 'unknown field' });
  }
  for (const [field, f] of Object.entries(spec)) {
    const v = (input as Record<string, unknown>)[field];
    if (v === undefined || v === null) {
      if (f.required) problems.push({ field, message: 'is required' });
      continue;
    }
    const problem = check(v, f);
    if (problem !== undefined) problems.push({ field, message: problem });
    else out[field] = v;
  }
  refine?.(out as Partial<Parsed<S>>, (field, message) => void problems.push({ field, message }));
  if (problems.length > 0) throw new ControlError('CTL_INVALID', problems.map((p) => `${p.field || 'body'} ${p.message}`).join('; '), problems);
  return out as Parsed<S>;
}

function check(v: unknown, f: FieldSpec): string | undefined {
  const max = f.max ?? 1024;
  switch (f.type) {
    case 'string':
      if (typeof v !== 'string') return 'must be a string';
      if (v.length > max) return `must be at most ${max} characters`;
      return undefined;
    case 'string[]':
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) return 'must be a list of strings';
      if (v.length > max) return `must have at most ${max} entries`;
      if (v.some((s: string) => s.length > 1024)) return 'has an entry that is too long';
      return undefined;
    case 'string-map':
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'must be an object of strings';
      if (!Object.values(v).every((s) => typeof s === 'string')) return 'must be an object of strings';
      if (Object.keys(v).length > max) return `must have at most ${max} entries`;
      return undefined;
  }
}

// A field name comes from the request: bounded and printable before it is echoed.
function safeField(key: string): string {
  const p = key.replace(/[^\x20-\x7e]/g, '?');
  return p.length > 64 ? `${p.slice(0, 64)}...` : p;
}
