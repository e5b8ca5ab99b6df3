import pg from 'pg';
import { RuntimeError } from '../../errors.js';

/** What a repository query runs on: the pool (one statement) or a client inside a transaction. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

/** Every write transaction takes this lock: writers run one at a time fleet-wide, as in SQLite. */
const WRITE_LOCK = 0x5374_616e; // "Stan"
export const CHANGE_CHANNEL = 'standin_store';

// int8 columns (epoch-ms times, ids) as numbers: every value standin stores fits in 2^53.
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PgDbOptions {
  /** How the database is named in messages: the URL without its password. */
  display: string;
  max?: number;
  connectTimeoutMs?: number;
}

/**
 * A pg Pool with standin's conventions: parameterised SQL only, numbers for int8, connection
 * problems as one-line RuntimeErrors that name the database without its password, and write
 * transactions that serialise on one advisory lock and bump the change sequence the gateways'
 * snapshots follow (with a NOTIFY delivered at commit).
 */
export class PgDb implements Queryable {
  readonly pool: pg.Pool;
  readonly display: string;
  #ended = false;

  constructor(url: string, options: PgDbOptions) {
    this.display = options.display;
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      types: TYPES,
    });
    // An idle client losing its server (restart, outage) must not crash the process; the next
    // query reports the problem.
    this.pool.on('error', () => undefined);
  }

  async query<R extends object = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    try {
      const r = await this.pool.query<R>(sql, params as unknown[]);
      return r.rows;
    } catch (e) {
      throw describePgError(e, this.display);
    }
  }

  /** A client of its own (LISTEN, session advisory locks); the caller releases it. */
  async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (e) {
      throw describePgError(e, this.display);
    }
  }

  /**
   * Runs `fn` in a write transaction: the fleet-wide write lock, then `fn`, then the change
   * sequence moves on and a NOTIFY carries it (PostgreSQL delivers it only if this commits).
   */
  async write<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const q = clientQueryable(client, this.display);
    let broken = false;
    try {
      await q.query('BEGIN');
      await q.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK]);
      const out = await fn(q);
      await bumpChanges(q);
      await q.query('COMMIT');
      return out;
    } catch (e) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw e;
    } finally {
      client.release(broken);
    }
  }

  // The store and the CLI context may both close the one pool: the second call is a no-op.
  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.pool.end();
  }
}

/** The change sequence's next value, announced to every gateway at commit. */
export async function bumpChanges(q: Queryable): Promise<void> {
  const rows = await q.query<{ seq: number }>('UPDATE store_changes SET seq = seq + 1 WHERE id = 1 RETURNING seq');
  await q.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, String(rows[0]?.seq ?? 0)]);
}

export function clientQueryable(client: pg.PoolClient | pg.Client, display: string): Queryable {
  return {
    query: async <R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> => {
      try {
        return (await client.query<R>(sql, params as unknown[])).rows;
      } catch (e) {
        throw describePgError(e, display);
      }
    },
  };
}

/** A write transaction already open on one client (an import): nested writes are savepoints. */
export function nestedWriter(q: Queryable): <T>(fn: (q: Queryable) => Promise<T>) => Promise<T> {
  let n = 0;
  return async <T>(fn: (q: Queryable) => Promise<T>): Promise<T> => {
    const name = `w${++n}`;
    await q.query(`SAVEPOINT ${name}`);
    try {
      const out = await fn(q);
      await q.query(`RELEASE SAVEPOINT ${name}`);
      return out;
    } catch (e) {
      await q.query(`ROLLBACK TO SAVEPOINT ${name}`);
      throw e;
    }
  };
}

const CONNECT_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  '28P01': 'password authentication failed',
  '28000': 'the server refused this user or address',
  '3D000': 'database does not exist',
  '57P01': 'the server is shutting down',
  '57P03': 'the server is starting up',
};

/** Is this the database being away (as opposed to a statement that failed)? */
export function isConnectionError(e: unknown): boolean {
  return e instanceof PgUnavailableError;
}

export class PgUnavailableError extends RuntimeError {}

/**
 * One line naming the database by its redacted URL. pg's errors are not passed on whole: their
 * `detail` can quote row values, and a connection error's fields can echo the connection string.
 */
export function describePgError(e: unknown, display: string): RuntimeError {
  if (e instanceof RuntimeError) return e;
  const code = errorCode(e);
  const reason = code === undefined ? undefined : CONNECT_CODES[code];
  if (reason !== undefined || isTimeout(e) || (code !== undefined && /^08/.test(code))) {
    return new PgUnavailableError(`cannot use PostgreSQL at ${display}: ${reason ?? 'connection failed'}`);
  }
  const message = e instanceof Error ? (e.message.split('\n')[0] ?? '') : '';
  return new RuntimeError(`PostgreSQL at ${display}: ${code !== undefined ? `${code} ` : ''}${message.slice(0, 200)}`);
}

function errorCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  // Node's happy-eyeballs connect reports an AggregateError whose parts carry the code.
  if (e instanceof AggregateError) for (const inner of e.errors) if (errorCode(inner) !== undefined) return errorCode(inner);
  return undefined;
}

function isTimeout(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return /timeout|Connection terminated|terminating connection/i.test(e.message);
}
