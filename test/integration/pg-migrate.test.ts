import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseChoice } from '../../src/store/database-url.js';
import { PgDb } from '../../src/store/pg/pg-db.js';
import { migratePg, PG_MIGRATIONS } from '../../src/store/pg/schema.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';

// Migrations on PostgreSQL: several gateways starting on one empty database at once must apply
// each migration exactly once (advisory lock), and a database from a newer standin is refused.
describe('PostgreSQL migrations', () => {
  let pg: PgCluster;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(() => pg?.destroy());

  const open = (url: string): PgDb => {
    const c = parseDatabaseChoice(url);
    if (c.kind !== 'postgres') throw new Error('not postgres');
    return new PgDb(c.url, { display: c.display });
  };

  it('four connections migrating one empty database at once apply each migration once', async () => {
    const url = pg.createDatabase();
    const dbs = [open(url), open(url), open(url), open(url)];
    try {
      const versions = await Promise.all(dbs.map((db) => migratePg(db)));
      expect(versions).toEqual(dbs.map(() => PG_MIGRATIONS.length));
      const rows = await dbs[0]!.query<{ version: number }>('SELECT version FROM standin_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
      expect(await dbs[0]!.query('SELECT name FROM tenants')).toEqual([{ name: 'default' }]);
      // Idempotent afterwards.
      expect(await migratePg(dbs[1]!)).toBe(PG_MIGRATIONS.length);
    } finally {
      await Promise.all(dbs.map((db) => db.end()));
    }
  });

  it('refuses a database migrated by a newer standin', async () => {
    const url = pg.createDatabase();
    const db = open(url);
    try {
      await migratePg(db);
      await db.query('INSERT INTO standin_migrations (version) VALUES (999)');
      await expect(migratePg(db)).rejects.toThrow(/schema version 999, newer than this standin understands .*upgrade standin/);
    } finally {
      await db.end();
    }
  });

  it('names an unreachable database without its password', async () => {
    const url = pg.url('nosuchdb').replace(String(pg.port), '1');
    const db = open(url);
    try {
      const e = await migratePg(db).catch((x: unknown) => x);
      expect(String(e)).toMatch(/cannot use PostgreSQL at postgres:\/\/standin_test:\*\*\*@127\.0\.0\.1:1\/nosuchdb: connection refused/);
      expect(String(e)).not.toContain(pg.password);
    } finally {
      await db.end();
    }
    const wrong = open(pg.url('postgres').replace(pg.password, 'wrong-password-123'));
    try {
      const e = await migratePg(wrong).catch((x: unknown) => x);
      expect(String(e)).toMatch(/password authentication failed/);
      expect(String(e)).not.toContain('wrong-password-123');
    } finally {
      await wrong.end();
    }
  });
});
