import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { CERTS } from '../helpers/upstream.js';
import { openTunnel, rawExchange, basicAuth } from '../helpers/client.js';

/**
 * Hardening II, by class: values back through stacked and repeated codings, encoded at any
 * alignment inside longer text, older versions and recently unbound secrets; stand-ins in the URL
 * never whole in the log; duplicate Host answered 400. A local upstream answers whatever the test
 * tells it to, so each case is a server doing its worst.
 */

const V1 = 'sk-REAL-first-version-a1b2c3d4e5f6g7h8i9';
const V2 = 'sk-REAL-second-version-z9y8x7w6v5u4t3s2r1';
const GONE = 'sk-REAL-unbound-value-q1w2e3r4t5y6u7i8o9';
type Reply = (req: IncomingMessage, res: ServerResponse) => void;

let h: Harness;
let server: Server;
let port: number;
let reply: Reply = (_q, s) => void s.end('ok');
let token: string;
let goneToken: string;

beforeAll(async () => {
  server = createServer({ cert: readFileSync(join(CERTS, 'upstream.pem')), key: readFileSync(join(CERTS, 'upstream-key.pem')) }, (req, res) => {
    req.resume();
    req.on('end', () => reply(req, res));
  });
  port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  h = await startHarness({ allowDest: [`127.0.0.1:${port}`] });
  const hosts = [`api.standin.test:${port}`];
  h.store.createSecret({ name: 'key', scheme: { kind: 'bearer' }, hosts, value: new SecretValue(V1), actor: 't' });
  h.store.rotateSecret('key', new SecretValue(V2), 't');
  h.store.createSecret({ name: 'gone', scheme: { kind: 'header', header: 'x-api-key' }, hosts, value: new SecretValue(GONE), actor: 't' });
  const created = h.store.createSandbox({ name: 'sb', allowHosts: [], bindings: [{ env: 'K', secretName: 'key' }, { env: 'G', secretName: 'gone' }], actor: 't' });
  token = created.bindings.find((b) => b.env === 'K')?.token ?? '';
  goneToken = created.bindings.find((b) => b.env === 'G')?.token ?? '';
});

afterAll(async () => {
  await h.close();
  server.close();
});

/** One raw request through a fresh tunnel; returns the raw response bytes as latin1. */
async function ask(path: string, headers: string[] = [], host = `api.standin.test:${port}`): Promise<string> {
  const tls = await openTunnel(h.gateway.address.port, host, basicAuth('sb', h.store.proxyKey('sb')), h.caPem, 'api.standin.test');
  const head = [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...headers, 'Connection: close', '', ''].join('\r\n');
  return rawExchange(tls, head, 3_000);
}

function split(raw: string): { status: number; headers: [string, string][]; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  const lines = raw.slice(0, end).split('\r\n');
  const headers = lines.slice(1).map((l): [string, string] => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]);
  let body: Buffer = Buffer.from(raw.slice(end + 4), 'latin1');
  if (headers.some(([k, v]) => k === 'transfer-encoding' && v === 'chunked')) body = dechunk(body);
  return { status: Number(lines[0]?.split(' ')[1]), headers, body };
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const nl = b.indexOf('\r\n', at);
    if (nl < 0) break;
    const n = parseInt(b.subarray(at, nl).toString('latin1'), 16);
    if (!(n > 0)) break;
    out.push(b.subarray(nl + 2, nl + 2 + n));
    at = nl + 2 + n + 2;
  }
  return Buffer.concat(out);
}

/** What a client that undoes every Content-Encoding layer (in order) reads. */
function decoded(r: ReturnType<typeof split>): string {
  const codings = r.headers.filter(([k]) => k === 'content-encoding').flatMap(([, v]) => v.split(',').map((c) => c.trim().toLowerCase().replace('x-gzip', 'gzip')));
  let body: Buffer = r.body;
  for (const c of codings.reverse()) {
    if (c === 'gzip') body = gunzipSync(body);
    else if (c === 'br') body = brotliDecompressSync(body);
    else if (c === 'deflate') body = inflateSync(body);
  }
  return body.toString('latin1');
}

function expectNoValue(text: string): void {
  for (const v of [V1, V2, GONE]) {
    expect(text).not.toContain(v);
    for (const enc of ['base64', 'base64url', 'hex'] as const) expect(text).not.toContain(Buffer.from(v).toString(enc));
  }
}

function expectNoValueAnywhere(...texts: string[]): void {
  for (const t of texts) expectNoValue(t);
  expectNoValue(h.logs());
  expectNoValue(JSON.stringify(h.rows()));
}

const CODE: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, br: brotliCompressSync, deflate: deflateSync };

describe('stacked and repeated response codings', () => {
  const stacks: [string, string[]][] = [
    ['gzip twice in one line', ['gzip, gzip']],
    ['gzip then br, two lines', ['gzip', 'br']],
    ['deflate, br, gzip', ['deflate, br', 'gzip']],
    ['identity and gzip', ['identity', 'gzip']],
    ['upper case and x-gzip', ['X-GZIP, BR']],
  ];
  for (const [what, lines] of stacks) {
    it(`${what}: decoded layer by layer and scrubbed; the client decodes no value`, async () => {
      reply = (_req, res) => {
        let body: Buffer = Buffer.from(`{"echo":"Bearer ${V2}","old":"${V1}"}`);
        const layers = lines.flatMap((l) => l.split(',').map((c) => c.trim().toLowerCase().replace('x-gzip', 'gzip'))).filter((c) => c !== 'identity');
        for (const c of layers) body = (CODE[c] as (b: Buffer) => Buffer)(body);
        res.setHeader('content-encoding', lines);
        res.end(body);
      };
      const raw = await ask('/stack', [`Authorization: Bearer ${token}`, 'Accept-Encoding: gzip, br, deflate']);
      const r = split(raw);
      expect(r.status).toBe(200);
      const text = decoded(r);
      expect(text).toContain(`Bearer ${token}`);
      expectNoValueAnywhere(raw, text);
    });
  }

  for (const lines of [['gzip', 'zstd'], ['gzip, compress'], ['br', 'x-custom']]) {
    it(`a stack with a coding the scrubber cannot read (${lines.join(' + ')}) is a 502, nothing relayed`, async () => {
      reply = (_req, res) => {
        res.setHeader('content-encoding', lines);
        res.end(gzipSync(Buffer.from(`secret ${V2}`)));
      };
      const raw = await ask('/unreadable', [`Authorization: Bearer ${token}`]);
      expect(split(raw).status).toBe(502);
      expect(raw).toContain('GW_UPSTREAM_PROTOCOL');
      expectNoValueAnywhere(raw, gunzipSafe(raw));
    });
  }

  it('a body that does not decode as labelled is a 502 before any byte of it', async () => {
    reply = (_req, res) => {
      res.setHeader('content-encoding', 'gzip, gzip');
      res.end(gzipSync(Buffer.from(`only one layer ${V2}`)));
    };
    const raw = await ask('/short-stack', [`Authorization: Bearer ${token}`]);
    expect(split(raw).status).toBe(502);
    expectNoValueAnywhere(raw, gunzipSafe(raw));
  });

  it('a transfer coding other than chunked (gzip, chunked) is refused', async () => {
    reply = (_req, res) => {
      res.setHeader('transfer-encoding', 'gzip, chunked');
      res.write(gzipSync(Buffer.from(`te ${V2}`)));
      res.end();
    };
    const raw = await ask('/te', [`Authorization: Bearer ${token}`]);
    expect(split(raw).status).toBe(502);
    expectNoValueAnywhere(raw, gunzipSafe(raw));
  });
});

function gunzipSafe(raw: string): string {
  const body = split(raw).body;
  try {
    return gunzipSync(body).toString('latin1');
  } catch {
    return '';
  }
}

describe('encoded forms at any alignment inside longer text', () => {
  const wrappers: [string, (v: string) => string][] = [
    ['base64 of "Bearer <value>"', (v) => Buffer.from(`Bearer ${v}`).toString('base64')],
    ['base64 of a JSON document', (v) => Buffer.from(JSON.stringify({ user: 'me', key: v, n: 1 })).toString('base64')],
    ['base64url at offset 1', (v) => Buffer.from(`x${v}yz`).toString('base64url')],
    ['base64 at offset 2, no padding', (v) => Buffer.from(`ab${v}`).toString('base64').replace(/=+$/, '')],
    ['hex, lower and upper', (v) => `${Buffer.from(v).toString('hex')} ${Buffer.from(v).toString('hex').toUpperCase()}`],
    ['percent-encoded inside a URL', (v) => `https://x.example/cb?next=${encodeURIComponent(`https://y.example/?k=${v}`)}`],
    ['JSON-escaped inside a string', (v) => JSON.stringify(`<a href="/k/${v}">`)],
  ];
  for (const [what, wrap] of wrappers) {
    it(`${what}: no alignment of the value survives, for the current and the previous version`, async () => {
      for (const v of [V2, V1]) {
        reply = (_req, res) => void res.end(`data: ${wrap(v)}\n\n`);
        const raw = await ask('/wrapped', [`Authorization: Bearer ${token}`]);
        const body = split(raw).body.toString('latin1');
        expect(body.startsWith('data: ')).toBe(true);
        const inner = body.slice(6).trim();
        const decodings = [inner, Buffer.from(inner, 'base64').toString('latin1'), Buffer.from(inner, 'base64url').toString('latin1'), decodeURIComponent(inner.replace(/%(?![0-9a-f]{2})/gi, ''))];
        for (const d of decodings) expect(d).not.toContain(v);
        expectNoValueAnywhere(raw, ...decodings);
      }
    });
  }

  it('the base64 of the value alone still becomes the base64 of the stand-in', async () => {
    reply = (_req, res) => void res.end(Buffer.from(V2).toString('base64'));
    const body = split(await ask('/b64', [`Authorization: Bearer ${token}`])).body.toString('latin1');
    expect(Buffer.from(body, 'base64').toString()).toBe(token);
  });
});

describe('which values are scrubbed', () => {
  it('the previous version (kept for rollback) comes back scrubbed, on a request without a token too', async () => {
    reply = (_req, res) => void res.end(`old=${V1} new=${V2}`);
    for (const headers of [[`Authorization: Bearer ${token}`], []]) {
      const raw = await ask('/versions', headers);
      expect(split(raw).body.toString()).toBe(`old=${token} new=${token}`);
      expectNoValueAnywhere(raw);
    }
  });

  it('a value of a secret unbound a moment ago is still scrubbed for the sandbox that had it', async () => {
    h.store.unbind('sb', 'G', 't');
    reply = (_req, res) => void res.end(`account key: ${GONE}`);
    const raw = await ask('/account');
    expect(split(raw).body.toString()).toBe(`account key: ${goneToken}`);
    expectNoValueAnywhere(raw);
    // Its stand-in no longer works: refused, not swapped.
    expect(split(await ask('/account', [`x-api-key: ${goneToken}`])).status).toBe(403);
  });

  it('a binding replaced by another secret keeps the old value scrubbed as well', async () => {
    h.store.bind('sb', 'K', 'gone', 't');
    reply = (_req, res) => void res.end(`${V1} ${V2} ${GONE}`);
    const raw = await ask('/replaced');
    expectNoValueAnywhere(raw);
    h.store.bind('sb', 'K', 'key', 't');
    token = h.store.listBindings('sb').find((b) => b.env === 'K')?.token ?? '';
  });

  it('with the window at 0 hours, an unbound value is no longer the sandbox\'s (the setting works)', async () => {
    const lab = await startHarness({ allowDest: [`127.0.0.1:${port}`], unboundScrubMs: 0 });
    try {
      lab.store.createSecret({ name: 'g', scheme: { kind: 'bearer' }, hosts: [`api.standin.test:${port}`], value: new SecretValue(GONE), actor: 't' });
      lab.store.createSandbox({ name: 'sb', allowHosts: [], bindings: [{ env: 'G', secretName: 'g' }], actor: 't' });
      lab.store.unbind('sb', 'G', 't');
      reply = (_req, res) => void res.end(`k=${GONE}`);
      const tls = await openTunnel(lab.gateway.address.port, `api.standin.test:${port}`, basicAuth('sb', lab.store.proxyKey('sb')), lab.caPem, 'api.standin.test');
      const raw = await rawExchange(tls, `GET /w HTTP/1.1\r\nHost: api.standin.test:${port}\r\nConnection: close\r\n\r\n`, 3_000);
      expect(raw).toContain(`k=${GONE}`);
    } finally {
      await lab.close();
    }
  });
});

describe('stand-ins in the network log', () => {
  it('never whole anywhere in a logged URL: path segment, part of one, parameter name, bare parameter, percent-encoded', async () => {
    reply = (_req, res) => void res.end('ok');
    const core = token.slice(token.indexOf('standin_'));
    const pct = core.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
    const paths = [`/seg/${token}/x`, `/bot${core}/getMe`, `/q?${token}=1`, `/q?${token}`, `/q?a=1&${core}`, `/p/${pct}`];
    const before = h.rows().length;
    for (const path of paths) await ask(path);
    await new Promise((r) => setTimeout(r, 100));
    const rows = h.rows();
    const fresh = rows.slice(before).filter((r) => r.complete !== false);
    expect(fresh).toHaveLength(paths.length);
    // Each row keeps the path's shape and says where the stand-in was.
    for (const row of fresh) expect(row.path).toContain('[redacted]');
    const text = JSON.stringify(rows) + h.logs();
    expect(text).not.toContain(core);
    expect(text).not.toContain(pct);
    // A stand-in in a query name keeps a short prefix, so people can tell which one it was.
    expect(fresh.some((r) => r.path.includes(`${core.slice(0, 12)}[redacted]`))).toBe(true);
  });
});
