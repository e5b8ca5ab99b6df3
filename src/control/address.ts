import { isAbsolute } from 'node:path';
import { UsageError } from '../errors.js';

/** Where the control API listens: a unix socket (acts as admin) or TCP (API keys required). */
export type ControlAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

// sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), terminating NUL included; the socket is
// first bound inside a sibling directory whose name adds 13 bytes.
export const MAX_SOCKET_PATH = 90; // leaves room for the private directory it is created in (see listen.ts)

/** `unix:/abs/path.sock` or `HOST:PORT` (IP literal or localhost; port 0 picks one). */
export function parseControlAddress(s: string): ControlAddress {
  const t = s.trim();
  if (t.startsWith('unix:')) {
    const path = t.slice(5);
    if (!isAbsolute(path)) throw new UsageError(`invalid --control '${printable(t)}': the socket path must be absolute`);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new UsageError(`invalid --control: socket path longer than ${MAX_SOCKET_PATH} bytes`);
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(t);
  const host = (m?.[1] ?? m?.[2])?.toLowerCase();
  const port = Number(m?.[3]);
  if (m === null || host === undefined || port > 65535 || !isHost(host, m[1] !== undefined)) {
    throw new UsageError(`invalid --control '${printable(t)}': expected unix:/PATH or HOST:PORT, e.g. 127.0.0.1:8878`);
  }
  return { kind: 'tcp', host, port };
}

function isHost(h: string, bracketed: boolean): boolean {
  if (bracketed) return /^[0-9a-f:.]+$/.test(h) && h.includes(':');
  return h === 'localhost' || /^\d{1,3}(\.\d{1,3}){3}$/.test(h);
}

export function formatControlAddress(a: ControlAddress): string {
  if (a.kind === 'unix') return `unix:${a.path}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function printable(s: string): string {
  const p = s.replace(/[^\x20-\x7e]/g, '?');
  return p.length > 80 ? `${p.slice(0, 80)}...` : p;
}
