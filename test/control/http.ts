import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): unknown;
}

export type Target = { socketPath: string } | { host: string; port: number };

/** One raw HTTP call to the control API (unix socket or TCP), no client library in between. */
export function call(target: Target, method: string, path: string, options: { body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, method, path, headers: { ...options.headers, ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as unknown });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export function jsonBody(value: unknown): { body: string; headers: Record<string, string> } {
  return { body: JSON.stringify(value), headers: { 'content-type': 'application/json' } };
}

/** The control address `serve` recorded in the home (serve.json). */
export function controlOf(home: string): Target {
  const state = JSON.parse(readFileSync(join(home, 'serve.json'), 'utf8')) as { control?: string };
  const c = state.control ?? '';
  if (c.startsWith('unix:')) return { socketPath: c.slice(5) };
  const m = /^(.+):(\d+)$/.exec(c);
  if (m === null) throw new Error(`no control address in serve.json: ${c}`);
  return { host: m[1] ?? '', port: Number(m[2]) };
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
