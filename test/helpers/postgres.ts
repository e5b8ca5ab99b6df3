import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * A throwaway PostgreSQL cluster for tests: Debian's postgresql 15 binaries, run as the `postgres`
 * user when the tests run as root (the server refuses root), in a temporary directory that user
 * owns, listening on 127.0.0.1 on a free port and on a socket in that directory, with fsync off.
 * It never touches the machine's default cluster. Without PostgreSQL installed this throws: tests
 * that need it fail, they never skip.
 *
 * Each test file starts its own cluster (about 2 s) so that one file can stop and restart its
 * server (outage tests) without disturbing another running in parallel.
 */
export interface PgCluster {
  readonly port: number;
  readonly dir: string;
  /** The app role's password (scram-sha-256 over TCP). */
  readonly password: string;
  /** A new, empty database owned by the app role; returns its postgres:// URL. */
  createDatabase(name?: string): string;
  /** The URL of an existing database (as the app role, over TCP on 127.0.0.1). */
  url(database: string): string;
  /** Runs SQL as the superuser over the socket; returns psql's unaligned output. */
  superSql(sql: string, database?: string): string;
  /** Stops the server (fast shutdown: clients are disconnected). */
  stop(): void;
  /** Starts it again on the same port and data. */
  start(): void;
  /** Stops it and removes the directory. */
  destroy(): void;
}

const BIN = '/usr/lib/postgresql/15/bin';
const APP_ROLE = 'standin_test';

export async function startPostgres(): Promise<PgCluster> {
  if (!existsSync(join(BIN, 'initdb'))) {
    throw new Error(`PostgreSQL 15 is not installed (${BIN}/initdb missing): install Debian's postgresql (.ci/run does)`);
  }
  const asRoot = process.getuid?.() === 0;
  // Not under root's home: the postgres user must be able to reach it.
  const dir = mkdtempSync(join(tmpdir(), 'standin-pg-'));
  const data = join(dir, 'data');
  const uid = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : undefined;
  const gid = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) : undefined;
  if (uid !== undefined && gid !== undefined) chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[], input?: string): string => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args]] : [join(BIN, cmd), args];
    return execFileSync(file, argv, { input, stdio: ['pipe', 'pipe', 'pipe'], cwd: dir }).toString();
  };
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  run('initdb', ['-D', data, '-N', '-A', 'trust', '--auth-local=trust', '--auth-host=scram-sha-256', '--locale=C', '-E', 'UTF8', '-U', 'postgres']);
  const conf = join(data, 'postgresql.conf');
  writeFileSync(
    conf,
    readFileSync(conf, 'utf8') +
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${port}`,
        `unix_socket_directories = '${dir}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'max_connections = 200',
        '',
      ].join('\n'),
  );
  const start = (): void => {
    run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
  };
  const stop = (): void => {
    run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
  };
  const superSql = (sql: string, database = 'postgres'): string =>
    run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-X', '-q', '-A', '-t'], sql);
  start();
  superSql(`CREATE ROLE ${APP_ROLE} LOGIN PASSWORD '${password}';`);
  let created = 0;
  const url = (database: string): string => `postgres://${APP_ROLE}:${password}@127.0.0.1:${port}/${database}`;
  return {
    port,
    dir,
    password,
    url,
    superSql,
    createDatabase(name?: string): string {
      const db = name ?? `standin_${process.pid}_${++created}`;
      // In PostgreSQL 15 only a database's owner can create tables in `public`.
      superSql(`CREATE DATABASE ${db} OWNER ${APP_ROLE};`);
      return url(db);
    },
    stop,
    start,
    destroy(): void {
      try {
        stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
