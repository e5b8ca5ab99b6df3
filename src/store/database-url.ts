import { UsageError } from '../errors.js';

/**
 * Which database holds the store: SQLite in the home (the default), or PostgreSQL when
 * `--database` / STANDIN_DATABASE_URL is a postgres:// or postgresql:// URL. `display` is the URL
 * with its password replaced, the only form ever printed.
 */
export type DatabaseChoice = { kind: 'sqlite' } | { kind: 'postgres'; url: string; display: string };

export function parseDatabaseChoice(value: string | undefined): DatabaseChoice {
  const text = value?.trim() ?? '';
  if (text === '') return { kind: 'sqlite' };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new UsageError('--database must be a postgres:// or postgresql:// URL (leave it unset for SQLite in the home)');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // URL's own error carries the whole input (password included) in a property: never passed on.
    throw new UsageError('--database is not a valid URL (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    throw new UsageError('--database URL names no host (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
  }
  return { kind: 'postgres', url: text, display: redactUrl(url) };
}

/** The URL as it may be shown: user, host, port and database; never the password. */
export function redactUrl(url: URL): string {
  const user = url.username === '' ? '' : `${decodeSafe(url.username)}${url.password === '' ? '' : ':***'}@`;
  const port = url.port === '' ? '' : `:${url.port}`;
  return `${url.protocol}//${user}${url.hostname}${port}${url.pathname}`;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
