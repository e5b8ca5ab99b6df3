import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { ControlError } from './problem.js';
import type { Report } from './route.js';

/**
 * Request input: JSON bodies only, bounded; schema problems (from fastify's Ajv, all of them) and
 * the route's own checks of meaning are reported together in one CTL_INVALID, so a caller fixes
 * every field at once. Unknown fields are refused (a typo like `allowhosts` must not silently
 * mean "any host"). Values are never echoed: Ajv's messages name the rule, never the input.
 */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Ajv for request input: every error, nothing removed, coerced or defaulted behind our back.
 * fastify leaves `allErrors` off by default because its cost grows with the input; here the input
 * is at most MAX_BODY_BYTES and every list and map has a maxItems/maxProperties.
 */
export const AJV_OPTIONS = { allErrors: true, removeAdditional: false, coerceTypes: false, useDefaults: false } as const;

/** `application/json` only; an empty body is no body (`{}` after `defaultBody`). */
export function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: MAX_BODY_BYTES }, (_req, text, done) => {
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(String(text)));
    } catch {
      // JSON.parse's message quotes the input, which may hold a value.
      done(new ControlError('CTL_BAD_JSON'), undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, raw, done) => {
    if (raw.length === 0) return done(null, undefined);
    done(new ControlError('CTL_UNSUPPORTED_MEDIA_TYPE'), undefined);
  });
}

export interface Problem {
  field: string;
  message: string;
}

/**
 * One problem per field from Ajv's errors (a list with three bad entries is one problem), plus
 * one per unknown field, and the names of the fields that had any.
 */
export function schemaProblems(errors: readonly FastifySchemaValidationError[], part: string): { problems: Problem[]; fields: Set<string>; notAnObject: boolean } {
  const problems: Problem[] = [];
  const fields = new Set<string>();
  let notAnObject = false;
  const unknown = part === 'querystring' ? 'unknown query parameter' : 'unknown field';
  for (const e of errors) {
    if (e.keyword === 'additionalProperties' && e.instancePath === '') {
      problems.push({ field: safeField(String(e.params.additionalProperty)), message: unknown });
      continue;
    }
    const field = e.keyword === 'required' && e.instancePath === '' ? String(e.params.missingProperty) : topField(e.instancePath);
    if (field === '') notAnObject = true;
    if (fields.has(field)) continue;
    fields.add(field);
    problems.push({ field, message: e.keyword === 'required' ? 'is required' : field === '' ? 'must be an object' : (e.message ?? 'is invalid') });
  }
  return { problems, fields, notAnObject };
}

/**
 * Throws one CTL_INVALID with the schema's problems and those `refine` reports on the fields the
 * schema accepted; returns when there are none.
 */
export async function checkInput(
  input: unknown,
  errors: readonly FastifySchemaValidationError[] | undefined,
  part: string,
  refine?: (fields: Record<string, unknown>, report: Report) => void | Promise<void>,
): Promise<void> {
  const found = schemaProblems(errors ?? [], part);
  if (found.notAnObject) throw new ControlError('CTL_INVALID', `request ${part === 'querystring' ? 'query' : part} must be a JSON object`, found.problems);
  const problems = [...found.problems];
  if (refine !== undefined && typeof input === 'object' && input !== null) {
    const fields = Object.fromEntries(Object.entries(input).filter(([k]) => !found.fields.has(k)));
    await refine(fields, (field, message) => void problems.push({ field, message }));
  }
  if (problems.length > 0) throw invalid(problems);
}

export function invalid(problems: Problem[]): ControlError {
  return new ControlError('CTL_INVALID', problems.map((p) => `${p.field || 'body'} ${p.message}`).join('; '), problems);
}

// `/hosts/3` -> `hosts` (JSON Pointer, RFC 6901).
function topField(pointer: string): string {
  const first = pointer.split('/')[1] ?? '';
  return first.replace(/~1/g, '/').replace(/~0/g, '~');
}

// A field name comes from the request: bounded and printable before it is echoed.
function safeField(key: string): string {
  const p = key.replace(/[^\x20-\x7e]/g, '?');
  return p.length > 64 ? `${p.slice(0, 64)}...` : p;
}
