import { pino, destination, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Process logs (JSON lines). Redaction here is a second line of defence only: pino redacts by key
 * path, so the first line is that log records are built from known fields (ids, codes, hosts,
 * sanitised paths) and never from request objects, header maps or foreign errors.
 */
const REDACT_PATHS = [
  'value',
  'secret',
  'token',
  'key',
  'masterKey',
  'proxyKey',
  'authorization',
  'headers',
  'req.headers',
  'res.headers',
  '*.value',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.headers',
];

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'standin' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Errors are logged as code + message only; pino's default serializer copies enumerable
      // properties, which for ERR_INVALID_URL includes the whole input string.
      serializers: { err: safeError },
    },
    options.destination ?? destination({ fd: 2, sync: false }),
  );
}

function safeError(e: unknown): { type: string; code?: string } {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' ? { type: e.name, code } : { type: e.name };
  }
  return { type: typeof e };
}
