// A throwaway PostgreSQL 15 cluster for benchmarks (the tests have their own: test/helpers/postgres.ts):
// Debian's binaries, run as the `postgres` user when we are root, in a temp dir, on a free port on
// 127.0.0.1. Durability settings are PostgreSQL's defaults (fsync and synchronous_commit on) unless
// `fast` is set: rows per second then measure what a real server would do on this disk.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const BIN = '/usr/lib/postgresql/15/bin';

export async function startCluster({ fast = false } = {}) {
  if (!existsSync(join(BIN, 'initdb'))) throw new Error(`PostgreSQL 15 is not installed (${BIN}/initdb missing)`);
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'standin-pgbench-'));
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  chmodSync(dir, 0o700);
  const run = (cmd, args, input) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args]] : [join(BIN, cmd), args];
    return execFileSync(file, argv, { input, stdio: ['pipe', 'pipe', 'pipe'], cwd: dir }).toString();
  };
  const port = await new Promise((resolve, reject) => {
    const s = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const password = randomBytes(12).toString('hex');
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-N', '-A', 'trust', '--auth-local=trust', '--auth-host=scram-sha-256', '--locale=C', '-E', 'UTF8', '-U', 'postgres']);
  const conf = join(data, 'postgresql.conf');
  const extra = [`listen_addresses = '127.0.0.1'`, `port = ${port}`, `unix_socket_directories = '${dir}'`, 'max_connections = 100', 'shared_buffers = 256MB', 'max_wal_size = 4GB'];
  if (fast) extra.push('fsync = off', 'synchronous_commit = off', 'full_page_writes = off');
  writeFileSync(conf, `${readFileSync(conf, 'utf8')}${extra.join('\n')}\n`);
  run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
  const sql = (q) => run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-X', '-q', '-A', '-t'], q);
  sql(`CREATE ROLE bench LOGIN PASSWORD '${password}'; CREATE DATABASE bench OWNER bench;`);
  return {
    url: `postgres://bench:${password}@127.0.0.1:${port}/bench`,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
