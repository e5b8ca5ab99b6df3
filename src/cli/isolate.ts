import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeError, UsageError } from '../errors.js';
import { NODE_PRELOAD_FILE } from '../sandbox-env/env.js';

/**
 * `standin run --isolate`: the command runs in a network namespace of its own whose only
 * interface is loopback. On it, a relay (isolate-relay.js) listens and forwards to a unix socket
 * that this process holds outside the namespace and relays on to the gateway. So the one thing
 * the command can connect to is the gateway: a program that ignores HTTPS_PROXY, or dials an IP,
 * finds no route at all.
 *
 * Why no veth pair: the host side of a veth has an address on the host, and every host service
 * bound to 0.0.0.0 (sshd, a TCP control API, a database) would answer on it unless a firewall
 * rule were added too. A namespace with loopback only needs no firewall and no addresses.
 *
 * The command runs with every capability dropped (setpriv), so it cannot reconfigure the
 * namespace or enter another; with `--user` it also runs as that user, which keeps it away from
 * files of the invoking user (the standin home, for a start).
 */
export interface Isolation {
  /** Proxy address to put in the sandbox's environment (inside the namespace). */
  proxy: string;
  /** CA bundle path readable from inside (a copy, world-readable; the Node preload's copy is beside it). */
  caFile: string;
  /** The argv to spawn instead of the command. */
  wrap(file: string, args: readonly string[]): { file: string; args: string[] };
  /** Removes the namespace, the relays and the temporary directory. Idempotent, synchronous. */
  cleanup(): void;
  /**
   * Until this is called, SIGINT/SIGTERM/SIGHUP clean up and exit; call it right before the
   * command starts (from then on signals are passed to the command).
   */
  releaseSignals(): void;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface IsolateOptions {
  /** HOST:PORT of the gateway (as `run` resolved it). */
  gateway: string;
  caBundle: string;
  /** The Node proxy preload in the home, copied next to the bundle's copy. */
  nodePreload: string;
  /** `NAME`, `UID` or `UID:GID`: run the command as this user. */
  user?: string;
}

const RELAY = join(import.meta.dirname, 'isolate-relay.js');

export function checkIsolateSupported(): void {
  if (process.platform !== 'linux') throw new UsageError('--isolate needs Linux (network namespaces)');
  if (process.getuid?.() !== 0) throw new UsageError('--isolate needs root (it creates a network namespace)');
  for (const tool of [['ip', '-V'], ['setpriv', '--version']] as const) {
    const r = spawnSync(tool[0], [tool[1]], { stdio: 'ignore' });
    if (r.error !== undefined || r.status !== 0) throw new UsageError(`--isolate needs \`${tool[0]}\` (Debian: ${tool[0] === 'ip' ? 'iproute2' : 'util-linux'})`);
  }
}

export function checkUser(user: string): string[] {
  const m = /^(?:(\d{1,10})(?::(\d{1,10}))?|([a-z_][a-z0-9_-]{0,31}))$/i.exec(user);
  if (m === null) throw new UsageError(`invalid --user '${user.slice(0, 40)}': use NAME, UID or UID:GID`);
  if (m[3] !== undefined) return ['--reuid', m[3], '--regid', m[3], '--init-groups'];
  return ['--reuid', m[1] ?? '', '--regid', m[2] ?? m[1] ?? '', '--clear-groups'];
}

export async function setupIsolation(options: IsolateOptions): Promise<Isolation> {
  const userArgs = options.user === undefined ? [] : checkUser(options.user);
  const gw = splitHostPort(options.gateway);
  const id = randomBytes(4).toString('hex');
  const ns = `standin-${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'standin-isolate-'));
  // Traversable (for a --user to read the CA copy), not listable; the socket itself is 0600.
  chmodSync(dir, 0o711);
  const socketPath = join(dir, 'gw.sock');
  const caFile = join(dir, 'ca.pem');
  let hostRelay: Server | undefined;
  let nsRelay: ChildProcess | undefined;
  let nsCreated = false;
  let done = false;
  const cleanup = (): void => {
    if (done) return;
    done = true;
    nsRelay?.kill('SIGKILL');
    hostRelay?.close();
    if (nsCreated) spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', cleanup);
  };
  // Last resort when the process ends without reaching the normal cleanup (an uncaught error).
  process.on('exit', cleanup);
  const onSignal = (signal: NodeJS.Signals): void => {
    cleanup();
    process.exit(128 + (constants.signals[signal] ?? 0));
  };
  const releaseSignals = (): void => {
    for (const sig of SIGNALS) process.off(sig, onSignal);
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  try {
    copyFileSync(options.caBundle, caFile);
    chmodSync(caFile, 0o644);
    const preload = join(dir, NODE_PRELOAD_FILE);
    copyFileSync(options.nodePreload, preload);
    chmodSync(preload, 0o644);
    hostRelay = await relayToGateway(socketPath, gw);
    chmodSync(socketPath, 0o600);
    ip(['netns', 'add', ns]);
    nsCreated = true;
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    const started = await startNsRelay(ns, socketPath);
    nsRelay = started.child;
    return {
      proxy: `127.0.0.1:${started.port}`,
      caFile,
      wrap: (file, args) => ({
        file: 'ip',
        args: ['netns', 'exec', ns, 'setpriv', ...userArgs, '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs', '--', file, ...args],
      }),
      cleanup: () => {
        releaseSignals();
        cleanup();
      },
      releaseSignals,
    };
  } catch (e) {
    releaseSignals();
    cleanup();
    throw e;
  }
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new RuntimeError(`--isolate: \`ip ${args.join(' ')}\` failed: ${(r.stderr ?? '').trim().slice(0, 200) || 'unknown error'}`);
}

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (m === null) throw new UsageError(`invalid gateway address '${s}'`);
  let host = m[1] ?? m[2] ?? '';
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return { host, port: Number(m[3]) };
}

function relayToGateway(socketPath: string, gw: { host: string; port: number }): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(gw.port, gw.host);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  // The relay must not keep `standin run` alive after the command exits.
  server.unref();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function startNsRelay(ns: string, socketPath: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, RELAY, socketPath], { stdio: ['pipe', 'pipe', 'ignore'] });
  child.unref();
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new RuntimeError('--isolate: the relay in the namespace did not start')), 10_000);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    child.once('error', () => fail(new RuntimeError('--isolate: cannot start the relay in the namespace')));
    child.once('exit', () => fail(new RuntimeError('--isolate: the relay in the namespace exited')));
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout?.removeAllListeners('data');
      // Unref'd pipes: they must not keep `standin run` alive either.
      (child.stdout as unknown as { unref?: () => void }).unref?.();
      (child.stdin as unknown as { unref?: () => void }).unref?.();
      resolve({ child, port: Number(m[1]) });
    });
  });
}
