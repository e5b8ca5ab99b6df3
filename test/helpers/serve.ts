import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_CA } from './upstream.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `standin` CLI against a home, as a user or script would. */
export function standin(home: string, args: string[], input?: string, env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, STANDIN_HOME: home, ...env }, input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface ServeProcess {
  home: string;
  proxy: string; // host:port
  pid: number;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  cli(args: string[], input?: string): CliResult;
  /** `sandbox env NAME --format json` as an object. */
  sandboxEnv(name: string): Record<string, string>;
  stop(): Promise<number | null>;
}

/**
 * `standin serve` as a separate process on a fresh home, pointed at a local upstream the way the
 * README's development flags describe (`--resolve`, `--allow-dest`, `--upstream-ca`). One process
 * (`--workers 1`) unless the test passes its own `--workers`: tests that read the gateway's memory
 * or kill it by pid mean that one process (test/e2e/workers.test.ts covers several).
 */
export async function startServe(upstreamPort: number, hosts: string[], extraArgs: string[] = [], existingHome?: string, env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  // An existing home: the same gateway started again (after a stop or a crash).
  const home = existingHome ?? mkdtempSync(join(tmpdir(), 'standin-e2e-'));
  if (existingHome === undefined) {
    const init = standin(home, ['init'], undefined, env);
    if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  }
  const workers = extraArgs.includes('--workers') ? [] : ['--workers', '1'];
  const args = [CLI, 'serve', '--listen', '127.0.0.1:0', '--upstream-ca', TEST_CA, '--allow-dest', `127.0.0.1:${upstreamPort}`, ...hosts.flatMap((h) => ['--resolve', `${h}=127.0.0.1`]), ...workers, ...extraArgs];
  const child = spawn(process.execPath, args, { env: { ...process.env, STANDIN_HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const proxy = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 20_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /standin listening on http:\/\/([^\s]+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  const cli = (a: string[], input?: string): CliResult => standin(home, a, input, env);
  return {
    home,
    proxy,
    pid: child.pid ?? 0,
    child,
    stdout: () => out,
    stderr: () => err,
    cli,
    sandboxEnv: (name) => {
      const r = cli(['sandbox', 'env', name, '--format', 'json']);
      if (r.code !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout) as Record<string, string>;
    },
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const code = await exited;
      return code;
    },
  };
}

/** The database files of a home as text (latin1), to prove that no value was stored in clear. */
export function databaseText(home: string): string {
  return ['standin.db', 'standin.db-wal']
    .map((f) => {
      try {
        return readFileSync(join(home, f)).toString('latin1');
      } catch {
        return '';
      }
    })
    .join('');
}

export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}

/** Peak and current resident memory of a process, in bytes (Linux). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/**
 * Runs a client program without blocking this process (the test's upstream lives here too, so
 * a blocking spawn would starve it).
 */
export function runClient(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, out, err: err + String(e) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}
