import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth } from '../helpers/client.js';
import { removeHome, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { REAL, expectCleanEverywhere, expectNoLeak, plant, startAdv, type Adv, type Planted } from './setup.js';
import { connectRaw, dial, expectProblem, httpReq, lastRowId, once, rowFor, tunnel, waitRow, type Res } from './wire.js';

// Class 7 — log integrity: every refusal is a row (authenticated or not), hostile bytes are data,
// never terminal control or SQL, and no real value is ever in a row.

let a: Adv;
let p: Planted;

beforeAll(async () => {
  a = await startAdv();
  p = plant(a);
});

afterAll(async () => {
  await a.close();
});

async function outer(bytes: string | Buffer): Promise<Res> {
  const w = await dial(a.gw);
  w.write(bytes);
  try {
    return await w.response();
  } finally {
    w.socket.destroy();
  }
}

// Control characters (C0, DEL, C1) and the unicode reorderers that must never reach a terminal raw.
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('refusals before authentication are logged', () => {
  it('407 at CONNECT: problem document, request id in header, body and row', async () => {
    const { res, wire } = await connectRaw(a.gw, p.api, basicAuth('alpha', 'wrong-key'));
    wire.socket.destroy();
    const row = await expectProblem(a, res, 407, 'GW_PROXY_AUTH');
    expect(res.headers['x-standin-request-id']?.[0]).toBe(row.requestId);
    expect(row).toMatchObject({ method: 'CONNECT', sandbox: null, host: 'api.standin.test', port: p.port, decision: 'denied' });
  });

  it('407 on a plain-HTTP request without credentials is logged with its target', async () => {
    const res = await outer(httpReq('GET', `http://api.standin.test:${a.lab.httpPort}/probe`, `api.standin.test:${a.lab.httpPort}`));
    const row = await expectProblem(a, res, 407, 'GW_PROXY_AUTH');
    expect(row).toMatchObject({ scheme: 'http', sandbox: null, host: 'api.standin.test', path: '/probe' });
  });

  it('a malformed CONNECT target without credentials is logged with the raw target, escaped', async () => {
    const { res, wire } = await connectRaw(a.gw, 'evil.example', undefined);
    wire.socket.destroy();
    const body = JSON.parse(res.text) as { code: string; request_id: string };
    expect([400, 407]).toContain(res.status);
    const row = await expectProblem(a, res, res.status, body.code);
    expect(row).toMatchObject({ method: 'CONNECT', sandbox: null, path: 'evil.example' });
  });

  it('parser errors on the outer port are answered and logged (garbage, NUL, bad version)', async () => {
    for (const bytes of ['GARBAGE\r\n\r\n', 'GET http://a.test/\u0000 HTTP/1.1\r\nHost: a.test\r\n\r\n', 'CONNECT a.test:443 HTTP/9.9\r\nHost: a\r\n\r\n', 'GET / HTTP/1.1\r\nHost a.test\r\n\r\n']) {
      const mark = lastRowId(a);
      const res = await outer(bytes);
      expect(res.status, JSON.stringify(bytes)).toBeGreaterThanOrEqual(400);
      const body = JSON.parse(res.text) as { code: string; request_id: string };
      const row = await rowFor(a, body.request_id);
      expect(row.id).toBeGreaterThan(mark);
      expect(row.status).toBe(res.status);
    }
  });

  it('a WebSocket upgrade over the plain-HTTP port is refused and logged', async () => {
    const res = await outer(
      httpReq('GET', `http://api.standin.test:${a.lab.httpPort}/ws`, `api.standin.test:${a.lab.httpPort}`, [
        ['Proxy-Authorization', a.auth('alpha')],
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
        ['Sec-WebSocket-Version', '13'],
        ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
      ]),
    );
    await expectProblem(a, res, 400, 'GW_BAD_REQUEST');
  });
});

describe('traffic cannot hide', () => {
  it('garbage instead of a TLS handshake after CONNECT is logged for the sandbox', async () => {
    const mark = lastRowId(a);
    const { res, wire } = await connectRaw(a.gw, p.other, a.auth('alpha'));
    expect(res.status).toBe(200);
    wire.write('GET /plaintext-in-tunnel HTTP/1.1\r\nHost: other\r\n\r\n');
    await wire.closedWithin(3_000);
    wire.socket.destroy();
    const row = await waitRow(a, mark, (r) => r.method === 'CONNECT');
    expect(row).toMatchObject({ sandbox: 'alpha', host: 'other.standin.test', errorCode: 'GW_TLS_HANDSHAKE' });
  });

  // A CONNECT makes the gateway resolve and approve a name of the sandbox's choosing (DNS is an
  // exfiltration channel); a tunnel that then carries no request must still leave a row.
  it('an accepted CONNECT the client closes before the TLS handshake is logged when it closes (within 2.5 s)', async () => {
    const mark = lastRowId(a);
    const { res, wire } = await connectRaw(a.gw, `elsewhere.standin.test:${p.port}`, a.auth('alpha'));
    expect(res.status).toBe(200);
    wire.socket.destroy();
    const row = await waitRow(a, mark, (r) => r.host === 'elsewhere.standin.test', 2_500);
    expect(row).toMatchObject({ method: 'CONNECT', sandbox: 'alpha' });
  });

  it('an accepted tunnel the client closes right after the TLS handshake, without a request, is logged when it closes (within 2.5 s)', async () => {
    const mark = lastRowId(a);
    const t = await tunnel(a, `evil.standin.test:${p.port}`, a.auth('alpha'));
    t.close();
    const row = await waitRow(a, mark, (r) => r.host === 'evil.standin.test', 2_500);
    expect(row).toMatchObject({ sandbox: 'alpha' });
  });

  it('a client that aborts mid-response still gets its row (bytes counted, abort recorded)', async () => {
    const mark = lastRowId(a);
    const t = await tunnel(a, p.api, a.auth('alpha'));
    t.wire.write(httpReq('GET', '/bytes?n=50000000', p.api, [['Authorization', `Bearer ${p.alpha.bearer}`]]));
    await new Promise<void>((resolve) => {
      const check = (): void => (t.wire.raw.length > 200_000 ? resolve() : void setTimeout(check, 5));
      check();
    });
    t.close();
    const row = await waitRow(a, mark, (r) => r.path.startsWith('/bytes'), 3_000);
    expect(row).toMatchObject({ sandbox: 'alpha', decision: 'error', errorCode: 'GW_CLIENT_ABORTED', secrets: ['bearer-s@1'] });
    expect(row.bytesIn).toBeGreaterThan(0);
    expect(row.bytesIn).toBeLessThan(50_000_000);
  });

  it('a WebSocket session is logged with its swap and 101', async () => {
    const mark = lastRowId(a);
    const t = await tunnel(a, p.api, a.auth('alpha'));
    t.wire.write(
      httpReq('GET', '/ws', p.api, [['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Authorization', `Bearer ${p.alpha.bearer}`]]),
    );
    const res = await t.wire.response({ noBody: true });
    expect(res.status).toBe(101);
    await new Promise((r) => setTimeout(r, 100));
    t.close();
    const row = await waitRow(a, mark, (r) => r.path === '/ws');
    expect(row).toMatchObject({ status: 101, decision: 'swapped', secrets: ['bearer-s@1'], sandbox: 'alpha' });
    expectCleanEverywhere(a, t.wire.raw);
  });
});

describe('hostile bytes are data', () => {
  it('SQL injection in a path is stored verbatim and the log keeps working', async () => {
    const path = "/x');DROP%20TABLE%20netlog;--'%20OR%20'1'='1";
    const res = await once(a, p.api, 'alpha', httpReq('GET', path, p.api));
    expect(res.status).toBe(200);
    const row = await waitRow(a, 0, (r) => r.path === path);
    expect(row.sandbox).toBe('alpha');
    expect(a.rows({ sandbox: "alpha' OR '1'='1" })).toEqual([]);
    expect(a.rows({ host: "' OR 1=1 --" })).toEqual([]);
    expect(a.rows().length).toBeGreaterThan(1);
  });

  it('SQL injection as the proxy user name does not authenticate, and is not stored as a sandbox', async () => {
    const { res, wire } = await connectRaw(a.gw, p.api, basicAuth("alpha' OR '1'='1' --", 'x'));
    wire.socket.destroy();
    const row = await expectProblem(a, res, 407, 'GW_PROXY_AUTH');
    expect(row.sandbox).toBeNull();
  });

  it('SQL injection in a CONNECT target: 400, the raw target kept verbatim as data', async () => {
    const target = "a');DELETE/**/FROM/**/netlog;--:443";
    const { res, wire } = await connectRaw(a.gw, target, a.auth('alpha'));
    wire.socket.destroy();
    const row = await expectProblem(a, res, 400, 'GW_BAD_TARGET');
    expect(row.path).toBe(target);
    expect(a.rows().length).toBeGreaterThan(5);
  });

  it('C1 controls, DEL and high bytes in a path are escaped in the row', async () => {
    const t = await tunnel(a, p.api, a.auth('alpha'));
    t.wire.write(Buffer.concat([Buffer.from('GET /a'), Buffer.from([0x9b, 0x33, 0x31, 0x6d, 0xff, 0xc2, 0x9b]), Buffer.from(`b HTTP/1.1\r\nHost: ${p.api}\r\nConnection: close\r\n\r\n`)]));
    const res = await t.wire.responseOrClose();
    t.close();
    const row = a.rows().at(-1)!;
    if (res && res.status === 200) expect(row.path.startsWith('/a')).toBe(true);
    expect(row.path).not.toMatch(RAW_CONTROL);
    expect(row.path).not.toMatch(/[^\x20-\x7e]/);
  });

  it('a 10 KB path is truncated in the row, with a marker', async () => {
    const path = `/${'p'.repeat(10_000)}`;
    const res = await once(a, p.api, 'alpha', httpReq('GET', path, p.api));
    expect(res.status).toBe(200);
    const row = a.rows().at(-1)!;
    expect(row.path.length).toBeLessThanOrEqual(2048);
    expect(row.path.endsWith('...[truncated]')).toBe(true);
  });

  it('no real value in any row or in the process log after swaps of every scheme', async () => {
    for (const headers of [[['Authorization', `Bearer ${p.alpha.bearer}`]], [['x-api-key', p.alpha.header]], [['Authorization', basicAuth('u', p.alpha.basic)]]] as [string, string][][]) {
      expect((await once(a, p.api, 'alpha', httpReq('GET', '/reflect', p.api, headers))).status).toBe(302);
    }
    expect((await once(a, p.api, 'alpha', httpReq('GET', `/echo?key=${p.alpha.query}&x=${encodeURIComponent(REAL.query)}`, p.api))).status).toBe(200);
    expectNoLeak(JSON.stringify(a.rows()), 'network log');
    expectNoLeak(a.logs(), 'pino output');
  });
});

describe('the CLI shows hostile rows safely (real `standin serve` + `standin log`)', () => {
  let upstream: Upstream;
  let gw: ServeProcess;
  const SERVE_REAL = 'serve-real-value-Sv9Sv9Sv9';

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startServe(upstream.port, ['api.standin.test']);
    expect(gw.cli(['secret', 'create', 'svc', '--hosts', `api.standin.test:${upstream.port}`, '--value-stdin'], `${SERVE_REAL}\n`).code).toBe(0);
    expect(gw.cli(['sandbox', 'create', 'cli-sb', '--bind', 'TOKEN=svc']).code).toBe(0);
  }, 30_000);

  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    if (gw) removeHome(gw.home);
  });

  it('ESC, BEL, C1 CSI and bidi controls sent in paths and targets never reach `standin log` output raw', async () => {
    const env = gw.sandboxEnv('cli-sb');
    const proxy = new URL(env.HTTPS_PROXY!);
    const port = Number(proxy.port);
    const auth = basicAuth(decodeURIComponent(proxy.username), decodeURIComponent(proxy.password));
    const caPem = readFileSync(join(gw.home, 'ca', 'ca.pem'), 'utf8');
    const authority = `api.standin.test:${upstream.port}`;
    const fake = { gw: port, caPem } as unknown as Adv;
    const hostile: Buffer[] = [
      Buffer.from('/%1b[31mred%07'),
      Buffer.concat([Buffer.from('/raw'), Buffer.from([0x1b]), Buffer.from('[2Jclear')]),
      Buffer.concat([Buffer.from('/c1'), Buffer.from([0x9b]), Buffer.from('31m'), Buffer.from([0xc2, 0x9b]), Buffer.from('32m')]),
      Buffer.from('/bidi\u202egnp.exe', 'utf8'),
      Buffer.concat([Buffer.from('/bs\\x1b[0m'), Buffer.from([0x7f, 0x08])]),
    ];
    for (const path of hostile) {
      const t = await tunnel(fake, authority, auth);
      t.wire.write(Buffer.concat([Buffer.from('GET '), path, Buffer.from(` HTTP/1.1\r\nHost: ${authority}\r\nAuthorization: Bearer ${env.TOKEN}\r\nConnection: close\r\n\r\n`)]));
      await t.wire.responseOrClose();
      t.close();
    }
    for (const target of [Buffer.concat([Buffer.from('\u001b]0;pwned\u0007x'), Buffer.from(':443')]), Buffer.concat([Buffer.from('a'), Buffer.from([0x9b]), Buffer.from('2J:443')])]) {
      const w = await dial(port);
      w.write(Buffer.concat([Buffer.from('CONNECT '), target, Buffer.from(` HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${auth}\r\n\r\n`)]));
      await w.responseOrClose();
      w.socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 400)); // the batched writer
    const table = gw.cli(['log', '--limit', '50']);
    const json = gw.cli(['log', '--limit', '50', '--json']);
    expect(table.code).toBe(0);
    expect(json.code).toBe(0);
    expect(table.stdout.split('\n').length).toBeGreaterThan(5);
    for (const out of [table.stdout, json.stdout]) {
      expect(out).not.toMatch(RAW_CONTROL);
      expect(out).not.toContain('\u001b');
      expect(out).not.toContain(SERVE_REAL);
    }
    expect(gw.stdout() + gw.stderr()).not.toContain(SERVE_REAL);
  });

  it('`standin log` filters treat SQL as data', () => {
    const inj = gw.cli(['log', '--sandbox', "x' OR '1'='1", '--json']);
    expect(inj.code).toBe(0);
    expect(inj.stdout.trim()).toBe('');
    const all = gw.cli(['log', '--json']);
    expect(all.stdout.trim().split('\n').length).toBeGreaterThan(3);
  });
});
