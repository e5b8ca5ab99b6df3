import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { basicAuth, openTunnel, rawConnect, rawExchange } from '../helpers/client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const REAL = 'real-parsing-secret-0123456789abcdef';
let h: Harness;
let token: string;
let authority: string;
let host: string;

beforeAll(async () => {
  h = await startHarness({ limits: { firstRequestMs: 600, headMs: 600, handshakeMs: 600 } });
  authority = `api.standin.test:${h.upstream.port}`;
  host = authority;
  h.store.createSecret({ name: 's', scheme: { kind: 'bearer' }, hosts: [authority], value: new SecretValue(REAL), actor: 't' });
  token = h.store.createSandbox({ name: 'sb', allowHosts: [], bindings: [{ env: 'T', secretName: 's' }], actor: 't' }).bindings[0]!.token;
});

afterAll(async () => {
  await h.close();
});

function auth(): string {
  return basicAuth('sb', h.store.proxyKey('sb'));
}

async function inTunnel(bytes: string, ms = 1_500): Promise<string> {
  const tls = await openTunnel(h.gateway.address.port, authority, auth(), h.caPem, 'api.standin.test');
  return rawExchange(tls, bytes, ms);
}

function statuses(out: string): number[] {
  return [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
}

describe('requests inside a tunnel are checked one by one', () => {
  it('two Host headers: 400 (RFC 9112 §3.2), nothing forwarded', async () => {
    const before = h.upstream.received.length;
    const out = await inTunnel(`GET /echo HTTP/1.1\r\nHost: ${host}\r\nHost: evil.standin.test\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    expect(statuses(out)[0]).toBe(400);
    expect(h.upstream.received.length).toBe(before);
  });

  it('two Authorization headers: 400', async () => {
    const out = await inTunnel(`GET /echo HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nAuthorization: Bearer x\r\n\r\n`);
    expect(statuses(out)[0]).toBe(400);
  });

  it('absolute-form target naming another host: refused', async () => {
    const out = await inTunnel(`GET https://evil.standin.test/echo HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    expect(statuses(out)[0]).toBe(421);
  });

  it('Host spellings that are not the target: 421', async () => {
    for (const bad of [`api.standin.test@evil.standin.test:${h.upstream.port}`, `evil.standin.test/x`, 'api.standin.test', `api.standin.test:99999`, '']) {
      const out = await inTunnel(`GET /echo HTTP/1.1\r\nHost: ${bad}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      expect(statuses(out)[0], bad).toBe(bad === '' ? 421 : 421);
    }
  });

  it('letter case and a trailing dot in Host still name the target', async () => {
    const out = await inTunnel(`GET /echo HTTP/1.1\r\nHost: API.Standin.Test.:${h.upstream.port}\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    expect(statuses(out)[0]).toBe(200);
    expect(out).not.toContain(REAL);
  });

  it('TRACE is refused', async () => {
    const out = await inTunnel(`TRACE /echo HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    expect(statuses(out)[0]).toBe(405);
  });

  it('HTTP/1.0 with Transfer-Encoding and HTTP/0.9-style lines are refused', async () => {
    const out = await inTunnel(`POST /echo HTTP/1.0\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    expect(statuses(out)[0]).toBeGreaterThanOrEqual(400);
    const nine = await inTunnel(`GET /echo\r\nHost: ${host}\r\n\r\n`);
    expect(nine).not.toMatch(/HTTP\/1\.1 200/);
  });

  it('Content-Length with Transfer-Encoding is rejected by the parser and logged', async () => {
    const before = h.upstream.received.length;
    const out = await inTunnel(`POST /echo HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    expect(statuses(out)[0]).toBe(400);
    expect(h.upstream.received.length).toBe(before);
    expect(h.rows().at(-1)).toMatchObject({ sandbox: 'sb', errorCode: 'GW_BAD_REQUEST', method: 'INVALID' });
  });

  it('pipelined requests are each checked: the second, for another host, is refused', async () => {
    const before = h.upstream.received.length;
    const out = await inTunnel(
      `GET /echo HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /echo HTTP/1.1\r\nHost: evil.standin.test:${h.upstream.port}\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    );
    expect(statuses(out)).toEqual([200, 421]);
    expect(h.upstream.received.length).toBe(before + 1);
  });

  it('Expect: 100-continue is answered only after the checks pass', async () => {
    const refused = await inTunnel(`POST /echo HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer standin_${'Q'.repeat(32)}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    expect(statuses(refused)).toEqual([403]);
    const before = h.upstream.received.length;
    const tls = await openTunnel(h.gateway.address.port, authority, auth(), h.caPem, 'api.standin.test');
    const text = await new Promise<string>((resolve) => {
      let out = '';
      tls.on('data', (c: Buffer) => {
        out += c.toString('latin1');
        if (out.includes('HTTP/1.1 100') && !out.includes('HTTP/1.1 200')) tls.write('hello');
        if (out.includes('"body":"hello"')) resolve(out);
      });
      tls.write(`POST /echo HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    });
    tls.destroy();
    expect(statuses(text)).toEqual([100, 200]);
    expect(h.upstream.received[before]?.headers.expect).toBeUndefined();
    expect(text).not.toContain(REAL);
  });

  it('HTTP/2 prior knowledge inside the tunnel is not spoken', async () => {
    const out = await inTunnel('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(out).not.toMatch(/HTTP\/1\.1 200/);
  });

  it('a tunnel that drips its head is closed by the head deadline', async () => {
    const tls = await openTunnel(h.gateway.address.port, authority, auth(), h.caPem, 'api.standin.test');
    const started = Date.now();
    const closed = new Promise<number>((resolve) => tls.on('close', () => resolve(Date.now() - started)));
    tls.on('error', () => undefined);
    tls.write('GET /echo HTTP/1.1\r\n');
    const drip = setInterval(() => tls.write(`X-Drip: ${Date.now()}\r\n`), 100);
    const after = await closed;
    clearInterval(drip);
    expect(after).toBeLessThan(3_000);
  });
});

describe('CONNECT targets', () => {
  it('malformed targets get 400 and a log row', async () => {
    for (const target of ['evil.standin.test', `http://api.standin.test:${h.upstream.port}/`, `sb@api.standin.test:${h.upstream.port}`, 'a:443:8443', '0x7f.1:443', '2130706433:443']) {
      const { head, socket } = await rawConnect(h.gateway.address.port, `CONNECT ${target} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${auth()}\r\n\r\n`);
      socket.destroy();
      expect(head.split('\r\n')[0], target).toMatch(/^HTTP\/1\.1 400/);
    }
    expect(h.rows().at(-1)).toMatchObject({ method: 'CONNECT', errorCode: 'GW_BAD_TARGET', sandbox: 'sb' });
  });

  it('a silent client after CONNECT is cut by the handshake deadline', async () => {
    const { head, socket } = await rawConnect(h.gateway.address.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${auth()}\r\n\r\n`);
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    const started = Date.now();
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
