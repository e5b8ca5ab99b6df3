import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';

// The throwaway cluster the PostgreSQL tests run against: it must start here (never skip), accept
// the app role over TCP with its password, refuse a wrong one, and survive a stop and start.
describe('throwaway PostgreSQL cluster', () => {
  let pg: PgCluster;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(() => pg?.destroy());

  const tcpSql = (url: string, sql: string, password = pg.password): string => {
    const u = new URL(url);
    return execFileSync('psql', ['-h', '127.0.0.1', '-p', u.port, '-U', u.username, '-d', u.pathname.slice(1), '-X', '-q', '-A', '-t', '-c', sql], {
      env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .toString()
      .trim();
  };

  it('gives each caller its own database, owned by the app role, over TCP', () => {
    const a = pg.createDatabase();
    const b = pg.createDatabase();
    expect(a).not.toBe(b);
    tcpSql(a, 'CREATE TABLE t (x int); INSERT INTO t VALUES (41);');
    expect(tcpSql(a, 'SELECT x + 1 FROM t')).toBe('42');
    expect(tcpSql(b, "SELECT count(*) FROM pg_tables WHERE tablename = 't'")).toBe('0');
    expect(() => tcpSql(a, 'SELECT 1', 'wrong-password')).toThrow();
  });

  it('stops and starts on the same port with the data kept', () => {
    const url = pg.createDatabase();
    tcpSql(url, 'CREATE TABLE kept (x int); INSERT INTO kept VALUES (7);');
    pg.stop();
    expect(() => tcpSql(url, 'SELECT 1')).toThrow();
    pg.start();
    expect(tcpSql(url, 'SELECT x FROM kept')).toBe('7');
  });
});
