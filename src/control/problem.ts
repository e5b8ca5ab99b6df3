import type { Problem } from './wire.js';

/**
 * Errors of the control API, one table of stable codes. Messages (`detail`) are written by us or
 * come from UsageError (also ours): never a request body, never a value.
 */
const CODES = {
  CTL_UNAUTHORIZED: { status: 401, title: 'Missing or invalid API key' },
  CTL_FORBIDDEN: { status: 403, title: 'The API key\'s role does not allow this' },
  CTL_NOT_FOUND: { status: 404, title: 'Not found' },
  CTL_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  CTL_CONFLICT: { status: 409, title: 'Already exists' },
  CTL_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  CTL_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Request body must be application/json' },
  CTL_BAD_JSON: { status: 400, title: 'Request body is not valid JSON' },
  CTL_INVALID: { status: 400, title: 'Invalid request' },
  CTL_NOT_READY: { status: 503, title: 'Gateway not ready' },
  CTL_INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ControlErrorCode = keyof typeof CODES;

export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    readonly code: ControlErrorCode,
    readonly detail?: string,
    readonly problems?: { field: string; message: string }[],
  ) {
    super(CODES[code].title);
  }

  get status(): number {
    return CODES[this.code].status;
  }

  toProblem(): Problem {
    const p: Problem = { type: `https://standin.dev/problems/${this.code.toLowerCase()}`, title: CODES[this.code].title, status: this.status, code: this.code };
    if (this.detail !== undefined) p.detail = this.detail;
    if (this.problems !== undefined) p.problems = this.problems;
    return p;
  }
}

export function controlCodes(): Record<ControlErrorCode, { status: number; title: string }> {
  return CODES;
}
