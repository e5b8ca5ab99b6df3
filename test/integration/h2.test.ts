import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { basicAuth, rawConnect } from '../helpers/client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * HTTP/2 from the sandbox: each stream is one Exchange through the same pipeline as an HTTP/1.1
 * request — swapped, scoped, refused and logged per stream — here to an HTTP/1.1 upstream (the
 * gateway maps the versions).
 */

const REAL = 'sk-real-h2-0123456789abcdefREALSECRET';
let h: Harness;
let token: string;
let authority: string;
let caFile: string;

beforeAll(async () => {
  h = await startHarness();
  authority = `api.standin.test:${h.upstream.port}`;
  h.store.createSecret({ name: 'openai', scheme: { kind: 'bearer' }, hosts: [authority], value: new SecretValue(REAL), actor: 't' });
  token = h.store.createSandbox({ name: 'agent', allowHosts: [], bindings: [{ env: 'K', secretName: 'openai' }], actor: 't' }).bindings[0]?.token ?? '';
  caFile = join(h.home, 'ca-for-clients.pem');
  writeFileSync(caFile, h.caPem);
});

afterAll(async () => {
  await h.close();
});

/** Node's http2 client has no proxy support: CONNECT by hand, then h2 over TLS in the tunnel. */
async function session(target = authority): Promise<ClientHttp2Session> {
  const { head, socket } = await rawConnect(h.gateway.address.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${basicAuth('agent', h.store.proxyKey('agent'))}\r\n\r\n`);
  if (!head.startsWith('HTTP/1.1 200')) throw new Error(head);
  return h2connect(`https://${target}`, {
    createConnection: () => tlsConnect({ socket, servername: target.split(':')[0], ca: h.caPem, ALPNProtocols: ['h2'] }),
  });
}

function request(s: ClientHttp2Session, headers: Record<string, string>, body?: string): Promise<{ headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = s.request(headers, { endStream: body === undefined });
    let response: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (hs) => (response = hs));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ headers: response, body: Buffer.concat(chunks).toString() }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

describe('HTTP/2 from the sandbox', () => {
  it('curl --http2: the swap works and curl reports HTTP/2', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn('curl', ['-sS', '--http2', '--cacert', caFile, '-H', `Authorization: Bearer ${token}`, '-w', '\n%{http_version} %{http_code}', `https://${authority}/echo`], {
        env: { ...process.env, HTTPS_PROXY: `http://agent:${h.store.proxyKey('agent')}@127.0.0.1:${h.gateway.address.port}`, NO_PROXY: '' },
      });
      let s = '';
      c.stdout.on('data', (d: Buffer) => (s += d.toString()));
      c.stderr.on('data', (d: Buffer) => (s += d.toString()));
      c.on('error', reject);
      c.on('close', () => resolve(s));
    });
    expect(out.trim().split('\n').at(-1)).toBe('2 200');
    expect(h.upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${REAL}`);
    expect(out).not.toContain(REAL);
    expect(out).toContain(token);
  });

  it('many concurrent streams on one connection: each swapped, each refused on its own, a row per stream', async () => {
    const s = await session();
    try {
      const before = h.rows().length;
      const ok = Array.from({ length: 20 }, (_, i) => request(s, { ':method': 'GET', ':path': `/echo?i=${i}`, authorization: `Bearer ${token}` }));
      const misuse = request(s, { ':method': 'GET', ':path': '/echo', authorization: `Bearer ${token}`, host: 'evil.standin.test' });
      const post = request(s, { ':method': 'POST', ':path': '/echo', authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, 'hello over h2');
      const results = await Promise.all(ok);
      for (const r of results) {
        expect(r.headers[':status']).toBe(200);
        expect(r.body).not.toContain(REAL);
      }
      const refused = await misuse;
      // A Host that is not the tunnel's target (Node's client sends it as :authority): refused.
      expect(refused.headers[':status']).toBe(421);
      expect(refused.headers['content-type']).toBe('application/problem+json');
      const posted = await post;
      expect(posted.headers[':status']).toBe(200);
      expect(h.upstream.received.some((e) => e.method === 'POST' && e.body === 'hello over h2' && e.headers.authorization === `Bearer ${REAL}`)).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      const rows = h.rows().slice(before).filter((r) => r.complete !== false);
      expect(rows.filter((r) => r.decision === 'swapped')).toHaveLength(21);
      expect(rows.filter((r) => r.errorCode === 'GW_HOST_MISMATCH')).toHaveLength(1);
    } finally {
      s.close();
    }
  });

  it(':authority must name the CONNECT target (421), a token out of scope is misuse (403)', async () => {
    const s = await session();
    try {
      const wrong = await request(s, { ':method': 'GET', ':path': '/echo', ':authority': `other.standin.test:${h.upstream.port}` });
      expect(wrong.headers[':status']).toBe(421);
      expect(JSON.parse(wrong.body)).toMatchObject({ code: 'GW_HOST_MISMATCH' });
    } finally {
      s.close();
    }
    const other = await session(`other.standin.test:${h.upstream.port}`);
    try {
      const misuse = await request(other, { ':method': 'GET', ':path': '/echo', authorization: `Bearer ${token}` });
      expect(misuse.headers[':status']).toBe(403);
      expect(JSON.parse(misuse.body)).toMatchObject({ code: 'GW_TOKEN_SCOPE' });
    } finally {
      other.close();
    }
    expect(JSON.stringify(h.rows())).not.toContain(REAL);
    expect(h.logs()).not.toContain(REAL);
  });

  it('a reflected value is scrubbed from DATA and from response headers', async () => {
    const s = await session();
    try {
      const r = await request(s, { ':method': 'GET', ':path': '/reflect', authorization: `Bearer ${token}` });
      expect(JSON.stringify(r.headers)).not.toContain(REAL);
      expect(r.body).not.toContain(REAL);
      const g = await request(s, { ':method': 'GET', ':path': '/gzip', authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' });
      expect(g.headers['content-encoding']).toBe('gzip');
    } finally {
      s.close();
    }
  });

  it('is offered only when enabled: with http2 off, ALPN gives HTTP/1.1', async () => {
    const lab = await startHarness({ http2: false });
    try {
      lab.store.createSandbox({ name: 'agent', allowHosts: [], bindings: [], actor: 't' });
      const target = `api.standin.test:${lab.upstream.port}`;
      const { head, socket } = await rawConnect(lab.gateway.address.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${basicAuth('agent', lab.store.proxyKey('agent'))}\r\n\r\n`);
      expect(head).toMatch(/^HTTP\/1.1 200/);
      const alpn = await new Promise<string | false | null>((resolve, reject) => {
        const t = tlsConnect({ socket, servername: 'api.standin.test', ca: lab.caPem, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
          resolve(t.alpnProtocol);
          t.destroy();
        });
        t.on('error', reject);
      });
      expect(alpn).toBe('http/1.1');
    } finally {
      await lab.close();
    }
  });
});
