import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, removeHome, standin } from '../helpers/serve.js';

// `standin serve` as a user starts it: a fresh home (serve initialises it), port 0, real signals.
interface Serve {
  child: ChildProcess;
  address: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

let root: string;
let home: string;
const started: ChildProcess[] = [];

function spawnServe(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env: { ...process.env, STANDIN_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function startServe(): Promise<Serve> {
  const s = spawnServe(['--listen', '127.0.0.1:0', '--log-level', 'warn']);
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${s.stderr()}`)), 20_000);
    const check = (): void => {
      const m = /^standin listening on http:\/\/(127\.0\.0\.1:\d+)\n$/.exec(s.stdout());
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    s.child.stdout?.on('data', check);
    void s.exited.then((code) => reject(new Error(`serve exited ${code}: ${s.stderr()}`)));
  });
  return { ...s, address };
}

/** A CONNECT without credentials: the gateway must answer 407 (and log the refusal). */
function connectWithoutAuth(address: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host, () => socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'));
    let got = '';
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(got.split('\r\n')[0] ?? '');
      }
    });
    socket.on('error', reject);
  });
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'standin-serve-'));
  home = join(root, 'home');
});
afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  removeHome(root);
});

describe('standin serve', () => {
  it('initialises a fresh home, prints one ready line, records its address, stops cleanly on SIGTERM', async () => {
    const s = await startServe();
    expect(existsSync(join(home, 'ca', 'ca.pem'))).toBe(true);
    expect(existsSync(join(home, 'standin.db'))).toBe(true);
    const state = JSON.parse(readFileSync(join(home, 'serve.json'), 'utf8')) as { proxy: string; pid: number; startedAt: string };
    expect(state).toMatchObject({ proxy: s.address, pid: s.child.pid });
    expect(Number.isFinite(Date.parse(state.startedAt))).toBe(true);

    // sandbox env, run in another process, points at the running gateway without being told.
    expect(standin(home, ['sandbox', 'create', 'sb']).code).toBe(0);
    const env = JSON.parse(standin(home, ['sandbox', 'env', 'sb', '--format', 'json']).stdout) as Record<string, string>;
    expect(env.HTTPS_PROXY?.endsWith(`@${s.address}`)).toBe(true);

    expect(await connectWithoutAuth(s.address)).toMatch(/^HTTP\/1\.1 407 /);

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.stdout()).toBe(`standin listening on http://${s.address}\n`);
    expect(existsSync(join(home, 'serve.json'))).toBe(false);
    // The refusal reached the network log before exit (the writer is flushed on shutdown).
    const log = standin(home, ['log', '--json']);
    const rows = log.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { decision: string; status: number });
    expect(rows.some((r) => r.status === 407 && r.decision === 'denied')).toBe(true);
  });

  it('reports a port in use as one line with exit 1, and stops on SIGINT', async () => {
    const s = await startServe();
    const second = spawnServe(['--listen', s.address]);
    expect(await second.exited).toBe(1);
    const lines = second.stderr().split('\n').filter((l) => l !== '' && !l.startsWith('{'));
    expect(lines).toEqual([`standin: cannot listen on ${s.address}: address already in use`]);
    expect(second.stdout()).toBe('');
    // The failed start must not have taken over the running gateway's record.
    expect(JSON.parse(readFileSync(join(home, 'serve.json'), 'utf8'))).toMatchObject({ pid: s.child.pid });

    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    expect(existsSync(join(home, 'serve.json'))).toBe(false);
  });

  it('checks every option before starting and reports each problem', async () => {
    const s = spawnServe(['--listen', '1.2.3:80', '--allow-dest', 'nonsense', '--upstream-ca', join(root, 'missing.pem')]);
    expect(await s.exited).toBe(2);
    const lines = s.stderr().trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/^standin: /);
    expect(s.stdout()).toBe('');
  });
});
