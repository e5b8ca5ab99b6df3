import { chmodSync, lstatSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { errnoCode } from '../config/home.js';
import { RuntimeError } from '../errors.js';

/**
 * Binds a unix socket at `target` that is never, even briefly, reachable by another user: it is
 * bound inside a fresh 0700 directory (mkdtemp), made 0600, then renamed into place (rename keeps
 * the listening inode). A live socket at `target` is refused; a stale one (no listener) replaced.
 * Returns a cleanup that removes the socket only if it is still ours (same inode).
 */
export async function listenUnix(server: Server, target: string): Promise<() => void> {
  await refuseLiveOrForeign(target);
  let tmpDir: string;
  try {
    tmpDir = mkdtempSync(join(dirname(target), '.sc-'));
  } catch (e) {
    throw new RuntimeError(`cannot create the control socket in ${dirname(target)}: ${errnoCode(e) ?? 'unknown error'}`);
  }
  const tmpSock = join(tmpDir, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmpSock, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(tmpSock, 0o600);
    renameSync(tmpSock, target);
  } catch (e) {
    server.close();
    throw e instanceof RuntimeError ? e : new RuntimeError(`cannot listen on unix:${target}: ${errnoCode(e) ?? 'unknown error'}`);
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
  const ino = lstatSync(target).ino;
  return () => {
    try {
      if (lstatSync(target).ino === ino) unlinkSync(target);
    } catch {
      // Already gone.
    }
  };
}

async function refuseLiveOrForeign(target: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(target).isSocket();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw new RuntimeError(`cannot use ${target} for the control socket: ${errnoCode(e) ?? 'unknown error'}`);
  }
  if (!isSocket) throw new RuntimeError(`${target} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(target);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new RuntimeError(`cannot listen on unix:${target}: another process is listening there`);
}
