import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { expect } from 'vitest';
import type { StoredNetLogRow } from '../../src/netlog/types.js';
import { expectCleanEverywhere, type Adv } from './setup.js';

/** One HTTP response as read off the wire. */
export interface Res {
  status: number;
  reason: string;
  /** The head as sent (status line and header lines), latin1. */
  head: string;
  /** Lower-cased names, every value in order. */
  headers: Record<string, string[]>;
  /** Decoded body (chunked framing removed). */
  body: Buffer;
  text: string;
  /** head + decoded body, for leak checks. */
  all: string;
}

export class WireTimeout extends Error {}

/**
 * Reads HTTP/1.1 responses off a socket as soon as each is complete (Content-Length, chunked, or
 * until close), so tests do not wait for a peer to go quiet. 1xx responses are returned on their own.
 */
export class Wire {
  buf: Buffer = Buffer.alloc(0);
  closed = false;
  /** Every byte received, latin1, for assertions on raw output. */
  raw = '';
  private wake: (() => void) | undefined;
  private readonly onData = (c: Buffer): void => {
    this.buf = Buffer.concat([this.buf, c]);
    this.raw += c.toString('latin1');
    this.wake?.();
  };

  constructor(readonly socket: Socket | TLSSocket) {
    socket.on('data', this.onData);
    const end = (): void => {
      this.closed = true;
      this.wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  write(bytes: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Stops reading (the socket is paused) and returns what was read but not consumed. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.pause();
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }

  private waitMore(deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const left = deadline - Date.now();
      if (left <= 0) return reject(new WireTimeout('timed out waiting for a response'));
      const timer = setTimeout(() => {
        this.wake = undefined;
        reject(new WireTimeout('timed out waiting for a response'));
      }, left);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** The next complete response; `noBody` for answers to CONNECT (2xx) and HEAD. */
  async response(opts: { timeoutMs?: number; noBody?: boolean } = {}): Promise<Res> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
    for (;;) {
      const parsed = this.tryParse(opts.noBody === true);
      if (parsed) return parsed;
      if (this.closed) throw new Error(`connection closed before a complete response; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      await this.waitMore(deadline);
    }
  }

  /** The next response, or `null` if the peer closes first (timing out is an error). */
  async responseOrClose(opts: { timeoutMs?: number } = {}): Promise<Res | null> {
    try {
      return await this.response(opts);
    } catch (e) {
      if (e instanceof WireTimeout) throw e;
      return null;
    }
  }

  /** Resolves true when the peer has closed within `ms`, false otherwise. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      try {
        await this.waitMore(deadline);
      } catch {
        return this.closed;
      }
    }
    return true;
  }

  private tryParse(noBody: boolean): Res | undefined {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const head = this.buf.subarray(0, end).toString('latin1');
    const lines = head.split('\r\n');
    const m = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
    if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(head.slice(0, 200))}`);
    const status = Number(m[1]);
    const headers: Record<string, string[]> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      const k = line.slice(0, i).trim().toLowerCase();
      (headers[k] ??= []).push(line.slice(i + 1).trim());
    }
    const rest = this.buf.subarray(end + 4);
    let body: Buffer;
    let used: number;
    const te = (headers['transfer-encoding'] ?? []).join(',').toLowerCase();
    const cl = headers['content-length']?.[0];
    if (noBody || (status >= 100 && status < 200) || status === 204 || status === 304) {
      body = Buffer.alloc(0);
      used = 0;
    } else if (te.includes('chunked')) {
      const parts: Buffer[] = [];
      let pos = 0;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', pos);
        if (lineEnd < 0) return undefined;
        const size = parseInt(rest.subarray(pos, lineEnd).toString('latin1').split(';')[0] ?? '', 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size');
        pos = lineEnd + 2;
        if (size === 0) {
          // Trailers, then an empty line.
          const trailerEnd = rest.indexOf('\r\n\r\n', pos - 2);
          if (trailerEnd < 0) return undefined;
          used = trailerEnd + 4;
          break;
        }
        if (rest.length < pos + size + 2) return undefined;
        parts.push(rest.subarray(pos, pos + size));
        pos += size + 2;
      }
      body = Buffer.concat(parts);
    } else if (cl !== undefined) {
      const n = Number(cl);
      if (rest.length < n) return undefined;
      body = rest.subarray(0, n);
      used = n;
    } else {
      if (!this.closed) return undefined;
      body = rest;
      used = rest.length;
    }
    this.buf = Buffer.from(rest.subarray(used));
    const text = body.toString('utf8');
    return { status, reason: m[2] ?? '', head, headers, body, text, all: `${head}\r\n\r\n${text}` };
  }
}

/** A plain TCP connection to the gateway with a reader attached. */
export function dial(port: number): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => resolve(wire));
    const wire = new Wire(socket);
    socket.once('error', reject);
  });
}

export function connectHead(authority: string, proxyAuth: string | undefined, extra: string[] = []): string {
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxyAuth !== undefined) lines.push(`Proxy-Authorization: ${proxyAuth}`);
  return [...lines, ...extra, '', ''].join('\r\n');
}

/** Sends a CONNECT and returns the gateway's answer (body included for refusals) and the reader. */
export async function connectRaw(port: number, authority: string, proxyAuth: string | undefined, extra: string[] = []): Promise<{ res: Res; wire: Wire }> {
  const wire = await dial(port);
  wire.write(connectHead(authority, proxyAuth, extra));
  // A 2xx answer to CONNECT has no body; a refusal has one (Content-Length).
  const peekStatus = async (): Promise<Res> => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const end = wire.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const is2xx = /^HTTP\/1\.[01] 2\d\d/.test(wire.buf.subarray(0, 16).toString('latin1'));
        return wire.response({ noBody: is2xx, timeoutMs: Math.max(1, deadline - Date.now()) });
      }
      if (wire.closed) return wire.response();
      await new Promise((r) => setTimeout(r, 5));
      if (Date.now() > deadline) throw new WireTimeout('CONNECT answer timed out');
    }
  };
  const res = await peekStatus();
  return { res, wire };
}

export interface Tunnel {
  tls: TLSSocket;
  wire: Wire;
  /** The leaf the gateway presented. */
  cert: PeerCertificate;
  close(): void;
}

/**
 * CONNECT as `proxyAuth`, then TLS inside the tunnel trusting the standin CA. `servername` may
 * differ from the CONNECT host (then the certificate name check is skipped, as an attacker would).
 */
export async function tunnel(
  a: Adv,
  authority: string,
  proxyAuth: string,
  opts: { servername?: string; alpn?: string[] } = {},
): Promise<Tunnel> {
  const { res, wire } = await connectRaw(a.gw, authority, proxyAuth);
  if (res.status !== 200) {
    wire.socket.destroy();
    throw new Error(`CONNECT ${authority} refused: ${res.status} ${res.text}`);
  }
  const rest = wire.detach();
  if (rest.length > 0) wire.socket.unshift(rest);
  const connectHost = authority.startsWith('[') ? authority.slice(1, authority.indexOf(']')) : authority.slice(0, authority.lastIndexOf(':'));
  const servername = opts.servername ?? connectHost;
  const isIp = /^[\d.]+$|:/.test(connectHost);
  const tls = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect(
      {
        socket: wire.socket as Socket,
        servername: /^[\d.]+$|:/.test(servername) ? undefined : servername,
        ca: a.caPem,
        ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
        ...(opts.servername !== undefined || isIp ? { checkServerIdentity: () => undefined } : {}),
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const tw = new Wire(tls);
  return { tls, wire: tw, cert: tls.getPeerCertificate(), close: () => tls.destroy() };
}

export type HeaderPairs = [string, string][];

/** A request in wire format; `Host` first unless `host` is null (then only the given headers). */
export function httpReq(method: string, target: string, host: string | null, headers: HeaderPairs = [], body?: string): string {
  const lines = [`${method} ${target} HTTP/1.1`];
  if (host !== null) lines.push(`Host: ${host}`);
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (body !== undefined && !headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

/** One request on a fresh tunnel; returns the response and closes the tunnel. */
export async function once(a: Adv, authority: string, sandbox: string, request: string, opts: { servername?: string; timeoutMs?: number } = {}): Promise<Res> {
  const t = await tunnel(a, authority, a.auth(sandbox), { servername: opts.servername });
  try {
    t.wire.write(request);
    return await t.wire.response({ timeoutMs: opts.timeoutMs ?? 5_000 });
  } finally {
    t.close();
  }
}

/** The final network-log row with this request id (waits for the batched writer and the exchange's end). */
export async function rowFor(a: Adv, requestId: string, timeoutMs = 2_000): Promise<StoredNetLogRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = a.rows().find((r) => r.requestId === requestId && r.complete !== false);
    if (row) return row;
    if (Date.now() > deadline) throw new Error(`no network-log row for request id ${requestId}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** Waits until `predicate` holds for some completed row written after `afterId`. */
export async function waitRow(a: Adv, afterId: number, predicate: (r: StoredNetLogRow) => boolean, timeoutMs = 2_000): Promise<StoredNetLogRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = a.rows().find((r) => r.id > afterId && r.complete !== false && predicate(r));
    if (row) return row;
    if (Date.now() > deadline) throw new Error('no matching network-log row');
    await new Promise((r) => setTimeout(r, 15));
  }
}

export function lastRowId(a: Adv): number {
  return a.rows().at(-1)?.id ?? 0;
}

/**
 * A refusal is an RFC 9457 problem document with the expected status and stable code, whose
 * request_id names a network-log row with the same code and status. Returns that row.
 */
export async function expectProblem(a: Adv, res: Res, status: number, code: string): Promise<StoredNetLogRow> {
  expect(`${res.status} ${res.text}`).toMatch(new RegExp(`^${status} `));
  expect(res.headers['content-type']?.[0]).toBe('application/problem+json');
  const body = JSON.parse(res.text) as { code: string; request_id: string; status: number };
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  const row = await rowFor(a, body.request_id);
  expect(row.errorCode).toBe(code);
  expect(row.status).toBe(status);
  return row;
}

export function statusesIn(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs an attack that must be refused: the answer is the expected problem document, its row is
 * in the network log, nothing reached any upstream, and no planted value is anywhere.
 */
export async function expectRefused(a: Adv, run: () => Promise<Res>, status: number, code: string): Promise<{ res: Res; row: StoredNetLogRow }> {
  const before = a.upstreamCount();
  const res = await run();
  const row = await expectProblem(a, res, status, code);
  expect(a.upstreamCount(), 'requests that reached an upstream').toBe(before);
  expectCleanEverywhere(a, res.all);
  return { res, row };
}

/** Like expectRefused, when more than one (status, code) answer is a correct refusal. */
export async function expectRefusedAny(a: Adv, run: () => Promise<Res>, accepted: [number, string][]): Promise<{ res: Res; row: StoredNetLogRow }> {
  const before = a.upstreamCount();
  const res = await run();
  const code = (() => {
    try {
      return (JSON.parse(res.text) as { code?: string }).code ?? '';
    } catch {
      return '';
    }
  })();
  const match = accepted.find(([s, c]) => s === res.status && c === code);
  expect(`${res.status} ${code}`, `one of ${accepted.map(([s, c]) => `${s} ${c}`).join(', ')}`).toBe(match ? `${match[0]} ${match[1]}` : 'an accepted refusal');
  const row = await expectProblem(a, res, match![0], match![1]);
  expect(a.upstreamCount(), 'requests that reached an upstream').toBe(before);
  expectCleanEverywhere(a, res.all);
  return { res, row };
}
