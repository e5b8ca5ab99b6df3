import type { Pool, PoolClient } from 'pg';

/**
 * Runs `f` in one transaction on a client of the pool. While the client is checked out, an error
 * the server sends between our queries (a shutdown: 57P01, a dropped connection) is emitted on
 * the client, and pg makes an unhandled one crash the process: it is caught here and the next
 * query fails instead. A client that failed is destroyed rather than returned to the pool.
 */
export async function inTransaction<T>(pool: Pool, f: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const ignore = (): void => undefined;
  client.on('error', ignore);
  let failure: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await f(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    failure = e instanceof Error ? e : new Error('transaction failed');
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.off('error', ignore);
    client.release(failure);
  }
}
