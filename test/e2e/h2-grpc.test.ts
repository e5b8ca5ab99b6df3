import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseText, removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { ECHO_PROTO, startGrpcUpstream, type GrpcUpstream } from '../helpers/grpc-upstream.js';
import { startH2Upstream, type H2Upstream } from '../helpers/h2-upstream.js';

/**
 * HTTP/2 and gRPC with real clients, configured only by `standin sandbox env` (hey reads no proxy
 * variable: it gets HTTPS_PROXY as -x): curl --http2, hey -h2, @grpc/grpc-js (unary, bidi streaming, an error status, a deadline) and Python grpcio,
 * carrying stand-ins in headers and gRPC metadata to local TLS upstreams that speak only h2.
 * Each time the real value arrives upstream, never reaches the client, and each stream is a row.
 */

const BEARER = 'sk-real-grpc-BEARER-0123456789abcdefghij';
const KEY = 'real-grpc-KEY-9f8e7d6c5b4a3928170655';
const CLIENTS = join(import.meta.dirname, 'clients');
let grpcUp: GrpcUpstream;
let h2Up: H2Upstream;
let gw: ServeProcess;
let env: Record<string, string>;

interface Row {
  requestId: string;
  decision: string;
  secrets: string[];
  path: string;
  errorCode?: string | null;
}

/** The protocol the sandbox spoke for a row (the listing leaves the detail out; explain has it). */
function protocolOf(row: Row): string | undefined {
  const r = gw.cli(['log', 'explain', row.requestId, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { row: { detail?: { protocol?: string } } }).row.detail?.protocol;
}

function rows(): Row[] {
  const log = gw.cli(['log', '--json', '--sandbox', 'agent', '--limit', '1000']);
  expect(log.code, log.stderr).toBe(0);
  return log.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
}

function clean(...texts: string[]): void {
  for (const t of texts) {
    expect(t).not.toContain(BEARER);
    expect(t).not.toContain(KEY);
  }
}

beforeAll(async () => {
  grpcUp = await startGrpcUpstream();
  h2Up = await startH2Upstream();
  gw = await startServe(grpcUp.port, ['api.standin.test'], ['--allow-dest', `127.0.0.1:${h2Up.port}`]);
  const hosts = `api.standin.test:${grpcUp.port},api.standin.test:${h2Up.port}`;
  expect(gw.cli(['secret', 'create', 'bearer', '--hosts', hosts, '--scheme', 'bearer', '--value-stdin'], `${BEARER}\n`).code).toBe(0);
  expect(gw.cli(['secret', 'create', 'apikey', '--hosts', hosts, '--scheme', 'header:x-api-key', '--value-stdin'], `${KEY}\n`).code).toBe(0);
  const sb = gw.cli(['sandbox', 'create', 'agent', '--bind', 'GRPC_TOKEN=bearer', '--bind', 'GRPC_KEY=apikey']);
  expect(sb.code, sb.stderr).toBe(0);
  env = gw.sandboxEnv('agent');
});

afterAll(async () => {
  await gw?.stop();
  await grpcUp?.close();
  await h2Up?.close();
  if (gw) removeHome(gw.home);
});

describe('HTTP/2 and gRPC clients through the gateway', () => {
  it('sandbox env points gRPC at the gateway: grpc_proxy and GRPC_DEFAULT_SSL_ROOTS_FILE_PATH', () => {
    expect(env.grpc_proxy).toBe(env.HTTPS_PROXY);
    expect(env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH).toBe(env.SSL_CERT_FILE);
  });

  it('@grpc/grpc-js: unary, bidi streaming, an error status and a deadline', async () => {
    const before = grpcUp.calls.length;
    const r = await runClient(process.execPath, [join(CLIENTS, 'grpc_js_client.mjs'), ECHO_PROTO, `api.standin.test:${grpcUp.port}`], { ...process.env, ...env }, 60_000);
    expect(r.code, r.err).toBe(0);
    const out = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const by = (call: string) => out.find((o) => o.call === call);
    const masked = `Bearer ${'*'.repeat(BEARER.length)}`;
    // Reflected inside a length-prefixed message: masked at the same length, still parsed.
    expect(by('unary')).toEqual({ call: 'unary', err: null, text: `got hi auth=${masked} key=${'*'.repeat(KEY.length)}` });
    expect(by('unary-metadata')).toEqual({ call: 'unary-metadata', echo: `Bearer ${env.GRPC_TOKEN}` });
    expect(by('chat')).toEqual({ call: 'chat', err: null, got: [0, 1, 2, 3, 4].map((i) => `echo m${i} auth=${masked}`) });
    // grpc-message (a trailer) scrubbed like a header: the stand-in in place of the value.
    expect(by('fail')).toEqual({ call: 'fail', err: 7, details: `denied for Bearer ${env.GRPC_TOKEN}` });
    expect(by('slow')).toEqual({ call: 'slow', err: 4 });
    const calls = grpcUp.calls.slice(before);
    expect(calls.map((c) => c.method)).toEqual(['Unary', 'Chat', 'Fail', 'Slow']);
    for (const c of calls) {
      expect(c.authorization).toBe(`Bearer ${BEARER}`);
      expect(c.apiKey).toBe(KEY);
    }
    // The client's deadline (its RST_STREAM) reached the server through the gateway.
    const deadline = Date.now() + 3_000;
    while (calls[3]?.cancelled !== true && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(calls[3]?.cancelled).toBe(true);
    await new Promise((res) => setTimeout(res, 300));
    const grpcRows = rows().filter((row) => row.path.startsWith('/echo.Echo/'));
    expect(grpcRows.map((row) => row.path).sort()).toEqual(['/echo.Echo/Chat', '/echo.Echo/Fail', '/echo.Echo/Slow', '/echo.Echo/Unary']);
    for (const row of grpcRows) {
      expect(protocolOf(row)).toBe('h2');
      expect([...row.secrets].sort()).toEqual(['apikey@1', 'bearer@1']);
    }
    expect(grpcRows.find((row) => row.path === '/echo.Echo/Slow')?.errorCode).toBe('GW_CLIENT_ABORTED');
    clean(r.out, r.err);
  });

  it('Python grpcio: a stand-in bearer in metadata, over TLS, h2 selected by ALPN', async () => {
    const before = grpcUp.calls.length;
    const r = await runClient('python3', [join(CLIENTS, 'grpcio_client.py'), `api.standin.test:${grpcUp.port}`], { ...process.env, ...env }, 60_000);
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out.trim()) as { text: string; echo: string; code: string };
    expect(out.text).toBe(`got hi auth=Bearer ${'*'.repeat(BEARER.length)} key=${'*'.repeat(KEY.length)}`);
    expect(out.echo).toBe(`Bearer ${env.GRPC_TOKEN}`);
    expect(grpcUp.calls[before]?.authorization).toBe(`Bearer ${BEARER}`);
    expect(grpcUp.calls[before]?.apiKey).toBe(KEY);
    clean(r.out, r.err);
  });

  it('curl --http2 to an h2-only upstream: curl reports HTTP/2, the upstream got h2 and the real value', async () => {
    const before = h2Up.received.length;
    const r = await runClient('curl', ['-sS', '--http2', '-H', `Authorization: Bearer ${env.GRPC_TOKEN}`, '-w', '\n%{http_version} %{http_code}', `https://api.standin.test:${h2Up.port}/echo`], { ...process.env, ...env });
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim().split('\n').at(-1)).toBe('2 200');
    expect(h2Up.received[before]?.httpVersion).toBe('2.0');
    expect(h2Up.received[before]?.headers.authorization).toBe(`Bearer ${BEARER}`);
    expect(r.out).toContain(env.GRPC_TOKEN);
    clean(r.out, r.err);
  });

  it('hey -h2: every request swapped, each stream a row on the sandbox side over h2', async () => {
    expect(spawnSync('hey', ['-h']).error, 'hey is not installed (apt-get install hey)').toBeUndefined();
    const before = h2Up.received.length;
    const rowsBefore = rows().length;
    // hey reads no proxy variable: -x takes the proxy URL (with the sandbox's proxy credential).
    const r = await runClient('hey', ['-n', '40', '-c', '4', '-h2', '-x', env.HTTPS_PROXY ?? '', '-H', `Authorization: Bearer ${env.GRPC_TOKEN}`, `https://api.standin.test:${h2Up.port}/echo`], { ...process.env, ...env });
    expect(r.code, r.err).toBe(0);
    expect(r.out, r.out).toMatch(/\[200\]\s+40 responses/);
    const got = h2Up.received.slice(before);
    expect(got).toHaveLength(40);
    for (const e of got) expect(e.headers.authorization).toBe(`Bearer ${BEARER}`);
    await new Promise((res) => setTimeout(res, 300));
    const fresh = rows().slice(rowsBefore);
    // hey falls back to HTTP/1.1 silently: the rows say which protocol the sandbox spoke.
    const swapped = fresh.filter((row) => row.decision === 'swapped');
    expect(swapped).toHaveLength(40);
    for (const row of [swapped[0], swapped[19], swapped[39]]) expect(row && protocolOf(row)).toBe('h2');
    clean(r.out, r.err);
  });

  it('the values are in no output, log or database', async () => {
    const log = gw.cli(['log', '--json']);
    const code = await gw.stop();
    expect(code).toBe(0);
    clean(gw.stdout(), gw.stderr(), log.stdout, databaseText(gw.home));
  });
});
