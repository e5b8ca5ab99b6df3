import { UsageError } from '../errors.js';
import { ControlError } from './problem.js';
import { MAX_BODY_BYTES } from './validation.js';

/** Ours keep their message; the store's UsageErrors are mapped by what they say; fastify's by code. */
export function toControlError(e: unknown): ControlError {
  if (e instanceof ControlError) return e;
  if (e instanceof UsageError) {
    if (/^no (secret|sandbox|API key|tenant) named/.test(e.message) || / has no binding for /.test(e.message)) return new ControlError('CTL_NOT_FOUND', e.message);
    if (/ already exists$/.test(e.message)) return new ControlError('CTL_CONFLICT', e.message);
    return new ControlError('CTL_INVALID', e.message);
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ControlError('CTL_BODY_TOO_LARGE', `at most ${MAX_BODY_BYTES} bytes`);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ControlError('CTL_UNSUPPORTED_MEDIA_TYPE');
  if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || code === 'FST_ERR_BAD_URL') return new ControlError('CTL_INVALID');
  return new ControlError('CTL_INTERNAL');
}
