import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { basicAuth, openTunnel, rawExchange, viaProxy } from '../helpers/client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const REAL = 'sk-real-0123456789abcdefREALSECRETvalue';
const REAL_KEY = 'real-anthropic-key-ZYXWVUT987654321';
const REAL_PAIR = 'AC1234567890:real-twilio-password-77';
const REAL_QUERY = 'real/query+value=with&specials';

let h: Harness;
let api: string; // https://api.standin.test:PORT
let tokens: Record<string, string>;
let otherTokens: Record<string, string>;

function json(body: string): { rawHeaders: string[]; url: string } {
  return JSON.parse(body) as { rawHeaders: string[]; url: string };
}

beforeAll(async () => {
  h = await startHarness();
  const port = h.upstream.port;
  api = `https://api.standin.test:${port}`;
  const scope = [`api.standin.test:${port}`];
  h.store.createSecret({ name: 'openai', scheme: { kind: 'bearer' }, hosts: scope, value: new SecretValue(REAL), actor: 'test' });
  h.store.createSecret({ name: 'anthropic', scheme: { kind: 'header', header: 'x-api-key' }, hosts: scope, value: new SecretValue(REAL_KEY), actor: 'test' });
  h.store.createSecret({ name: 'twilio', scheme: { kind: 'basic' }, hosts: scope, value: new SecretValue(REAL_PAIR), actor: 'test' });
  h.store.createSecret({ name: 'maps', scheme: { kind: 'query', param: 'key' }, hosts: scope, value: new SecretValue(REAL_QUERY), actor: 'test' });
  const sb = h.store.createSandbox({
    name: 'agent',
    allowHosts: [],
    bindings: [
      { env: 'OPENAI_API_KEY', secretName: 'openai', tokenPrefix: 'sk-' },
      { env: 'ANTHROPIC_API_KEY', secretName: 'anthropic' },
      { env: 'TWILIO_AUTH', secretName: 'twilio' },
      { env: 'MAPS_KEY', secretName: 'maps' },
    ],
    actor: 'test',
  });
  tokens = Object.fromEntries(sb.bindings.map((b) => [b.env, b.token]));
  const other = h.store.createSandbox({ name: 'other', allowHosts: [], bindings: [{ env: 'OPENAI_API_KEY', secretName: 'openai' }], actor: 'test' });
  otherTokens = Object.fromEntries(other.bindings.map((b) => [b.env, b.token]));
});

afterAll(async () => {
  await h.close();
});

function leakCheck(text: string): void {
  for (const v of [REAL, REAL_KEY, REAL_PAIR, REAL_QUERY, encodeURIComponent(REAL_QUERY), Buffer.from(REAL_PAIR).toString('base64')]) {
    expect(text).not.toContain(v);
  }
}

describe('swapping by scheme', () => {
  it('bearer: upstream gets the real value, the sandbox sees only its token', async () => {
    const before = h.upstream.received.length;
    const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { authorization: `Bearer ${tokens.OPENAI_API_KEY}` } });
    expect(r.status).toBe(200);
    const sent = h.upstream.received[before];
    expect(sent?.headers.authorization).toBe(`Bearer ${REAL}`);
    expect(sent?.servername).toBe('api.standin.test');
    leakCheck(r.body);
    expect(r.body).toContain(tokens.OPENAI_API_KEY);
    const row = h.rows().at(-1);
    expect(row).toMatchObject({ sandbox: 'agent', method: 'GET', host: 'api.standin.test', decision: 'swapped', status: 200, secrets: ['openai@1'] });
    expect(row?.upstreamIp).toBe('127.0.0.1');
  });

  it('header:x-api-key', async () => {
    const before = h.upstream.received.length;
    const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { 'x-api-key': tokens.ANTHROPIC_API_KEY! } });
    expect(h.upstream.received[before]?.headers['x-api-key']).toBe(REAL_KEY);
    leakCheck(r.body);
  });

  it('basic: a user:password value replaces the whole pair', async () => {
    const before = h.upstream.received.length;
    const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { authorization: basicAuth('AC1234567890', tokens.TWILIO_AUTH!) } });
    expect(h.upstream.received[before]?.headers.authorization).toBe(`Basic ${Buffer.from(REAL_PAIR).toString('base64')}`);
    leakCheck(r.body);
    expect(r.status).toBe(200);
  });

  it('query:key is percent-encoded on the way out and scrubbed on the way back', async () => {
    const before = h.upstream.received.length;
    const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo?q=1&key=${tokens.MAPS_KEY}`);
    expect(h.upstream.received[before]?.url).toBe(`/echo?q=1&key=${encodeURIComponent(REAL_QUERY)}`);
    leakCheck(r.body);
    expect(h.rows().at(-1)?.path).toBe('/echo?q=[redacted]&key=[redacted]');
  });

  it('requests without tokens are forwarded untouched and logged as allowed', async () => {
    const before = h.upstream.received.length;
    const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { authorization: 'Bearer not-a-standin-token' } });
    expect(r.status).toBe(200);
    expect(h.upstream.received[before]?.headers.authorization).toBe('Bearer not-a-standin-token');
    expect(h.rows().at(-1)).toMatchObject({ decision: 'allowed', secrets: [] });
  });

  it('a rotation is used by the very next request', async () => {
    h.store.createSecret({ name: 'rotating', scheme: { kind: 'bearer' }, hosts: [`api.standin.test:${h.upstream.port}`], value: new SecretValue('rot-value-one-1111'), actor: 't' });
    const b = h.store.bind('agent', 'ROT', 'rotating', 't');
    const send = () => viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { authorization: `Bearer ${b.token}` } });
    await send();
    expect(h.upstream.received.at(-1)?.headers.authorization).toBe('Bearer rot-value-one-1111');
    h.store.rotateSecret('rotating', new SecretValue('rot-value-two-2222'), 't');
    const r = await send();
    expect(h.upstream.received.at(-1)?.headers.authorization).toBe('Bearer rot-value-two-2222');
    expect(r.body).not.toContain('rot-value-two-2222');
    expect(h.rows().at(-1)?.secrets).toEqual(['rotating@2']);
  });
});

describe('refusals', () => {
  it('a token sent to a host outside its scope: 403, nothing forwarded, logged as token_misuse', async () => {
    const before = h.upstream.received.length;
    const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `https://other.standin.test:${h.upstream.port}/echo`, {
      headers: { authorization: `Bearer ${tokens.OPENAI_API_KEY}` },
    });
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toBe('application/problem+json');
    const problem = JSON.parse(r.body) as { code: string; request_id: string };
    expect(problem.code).toBe('GW_TOKEN_SCOPE');
    expect(h.upstream.received.length).toBe(before);
    const row = h.rows().at(-1);
    expect(row).toMatchObject({ decision: 'token_misuse', errorCode: 'GW_TOKEN_SCOPE', secrets: ['openai@1'], host: 'other.standin.test', requestId: problem.request_id });
  });

  it("another sandbox's token is unknown here", async () => {
    const before = h.upstream.received.length;
    const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { authorization: `Bearer ${otherTokens.OPENAI_API_KEY}` } });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'GW_TOKEN_UNKNOWN' });
    expect(h.upstream.received.length).toBe(before);
  });

  it('an unknown, a revoked, or an extended token is refused', async () => {
    const fake = 'standin_' + 'A'.repeat(32);
    for (const auth of [`Bearer ${fake}`, `Bearer ${tokens.OPENAI_API_KEY}x`, `Bearer x${tokens.OPENAI_API_KEY}`]) {
      const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { authorization: auth } });
      expect(r.status, auth).toBe(403);
    }
    const b = h.store.bind('agent', 'TEMP', 'openai', 't');
    h.store.unbind('agent', 'TEMP', 't');
    const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { authorization: `Bearer ${b.token}` } });
    expect(r.status).toBe(403);
  });

  it('a token in the wrong place for its scheme is refused; in a cookie or body it is ignored', async () => {
    const wrong = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { 'x-api-key': tokens.OPENAI_API_KEY! } });
    expect(JSON.parse(wrong.body)).toMatchObject({ code: 'GW_TOKEN_PLACEMENT' });
    const before = h.upstream.received.length;
    const ok = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, {
      method: 'POST',
      headers: { cookie: `t=${tokens.OPENAI_API_KEY}`, 'content-type': 'text/plain' },
      body: `quoting ${tokens.OPENAI_API_KEY} in a chat history`,
    });
    expect(ok.status).toBe(200);
    expect(h.upstream.received[before]?.body).toContain(tokens.OPENAI_API_KEY);
  });

  it('missing or wrong proxy credentials: 407 at CONNECT, logged', async () => {
    const bad = `http://agent:wrong@127.0.0.1:${h.gateway.address.port}`;
    await expect(viaProxy(bad, h.caPem, `${api}/echo`)).rejects.toThrow();
    const row = h.rows({ decision: 'denied' }).at(-1);
    expect(row).toMatchObject({ method: 'CONNECT', status: 407, errorCode: 'GW_PROXY_AUTH', sandbox: null, host: 'api.standin.test' });
  });

  it('Host different from the CONNECT target: 421', async () => {
    const tls = await openTunnel(h.gateway.address.port, `api.standin.test:${h.upstream.port}`, basicAuth('agent', h.store.proxyKey('agent')), h.caPem, 'api.standin.test');
    const out = await rawExchange(tls, `GET /echo HTTP/1.1\r\nHost: other.standin.test:${h.upstream.port}\r\nAuthorization: Bearer ${tokens.OPENAI_API_KEY}\r\n\r\n`);
    expect(out.startsWith('HTTP/1.1 421')).toBe(true);
    leakCheck(out);
  });

  it('private destinations are refused at CONNECT', async () => {
    const r = viaProxy(h.proxyUrl('agent'), h.caPem, `https://127.0.0.1:22/`);
    await expect(r).rejects.toThrow();
    expect(h.rows().at(-1)).toMatchObject({ method: 'CONNECT', errorCode: expect.stringMatching(/GW_PRIVATE_ADDRESS|GW_PORT_DENIED/) });
  });
});

describe('reflection scrubbing', () => {
  for (const path of ['/reflect', '/gzip', '/deflate', '/br', '/split']) {
    it(`scrubs ${path}`, async () => {
      for (const [name, auth] of [
        ['bearer', { authorization: `Bearer ${tokens.OPENAI_API_KEY}` }],
        ['basic', { authorization: basicAuth('AC1234567890', tokens.TWILIO_AUTH!) }],
        ['header', { 'x-api-key': tokens.ANTHROPIC_API_KEY! }],
      ] as const) {
        const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}${path}`, { headers: { ...auth, 'accept-encoding': 'identity' } });
        const everything = JSON.stringify(r.headers) + r.body;
        leakCheck(everything);
        expect(r.headers['x-standin-error'], name).toBeUndefined();
      }
    });
  }

  it('a streamed body cut inside the value (and inside its base64) between socket reads, after long chunks: scrubbed', async () => {
    for (const at of [1, 8, 20, 37]) {
      const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/split-large?at=${at}`, { headers: { authorization: `Bearer ${tokens.OPENAI_API_KEY}`, 'accept-encoding': 'identity' } });
      expect(r.status).toBe(200);
      leakCheck(JSON.stringify(r.headers) + r.body);
      const [text = '', b64 = ''] = r.body.replace(/^p+|p+$/g, '').split(` ${'q'.repeat(4096)} `);
      const decoded = Buffer.from(b64, 'base64').toString('latin1');
      expect(text, `cut at ${at}`).toContain(`Bearer ${tokens.OPENAI_API_KEY}`);
      for (let i = 0; i + 12 <= REAL.length; i++) expect(decoded, `base64 cut at ${at}`).not.toContain(REAL.slice(i, i + 12));
    }
  });

  it('server-sent events keep flowing event by event', async () => {
    const tls = await openTunnel(h.gateway.address.port, `api.standin.test:${h.upstream.port}`, basicAuth('agent', h.store.proxyKey('agent')), h.caPem, 'api.standin.test');
    const started = Date.now();
    const firstEvent = await new Promise<{ at: number; text: string }>((resolve) => {
      let text = '';
      tls.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('data: 1 ')) resolve({ at: Date.now() - started, text });
      });
      tls.write(`GET /sse HTTP/1.1\r\nHost: api.standin.test:${h.upstream.port}\r\nAuthorization: Bearer ${tokens.OPENAI_API_KEY}\r\n\r\n`);
    });
    tls.destroy();
    expect(firstEvent.at).toBeLessThan(250); // events come every 100 ms; the stream lasts 300 ms
    leakCheck(firstEvent.text);
  });
});

describe('cleartext and WebSocket', () => {
  it('never swaps over plain HTTP', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: h.gateway.address.port,
        path: `http://api.standin.test:${h.upstream.port}/echo`,
        headers: { authorization: `Bearer ${tokens.OPENAI_API_KEY}`, 'proxy-authorization': basicAuth('agent', h.store.proxyKey('agent')) },
      }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
    expect(h.rows().at(-1)).toMatchObject({ scheme: 'http', errorCode: 'GW_TOKEN_CLEARTEXT', secrets: ['openai@1'] });
  });

  it('swaps the token in a WebSocket handshake', async () => {
    const { WebSocket } = await import('ws');
    const agent = new (await import('hpagent')).HttpsProxyAgent({ proxy: h.proxyUrl('agent'), ca: h.caPem });
    const ws = new WebSocket(`wss://api.standin.test:${h.upstream.port}/ws`, { agent, ca: h.caPem, headers: { authorization: `Bearer ${tokens.OPENAI_API_KEY}` } });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (d) => resolve(d.toString()));
      ws.once('error', reject);
    });
    ws.send('ping');
    const echo = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
    ws.close();
    expect(echo).toBe('ping');
    // The upstream echoes the real value in its first frame: the sandbox gets it masked.
    expect(first).not.toContain(REAL);
    expect(JSON.parse(first)).toEqual({ authorization: `Bearer ${'*'.repeat(REAL.length)}` });
    expect(h.upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${REAL}`);
  });
});

describe('no leaks anywhere', () => {
  it('the real values are in neither the process log nor the network log', () => {
    leakCheck(h.logs());
    leakCheck(JSON.stringify(h.rows()));
  });
});

describe('changes apply to open tunnels', () => {
  it('deleting a sandbox stops its open tunnel at the next request', async () => {
    const port = h.upstream.port;
    h.store.createSecret({ name: 'short-lived', scheme: { kind: 'bearer' }, hosts: [`api.standin.test:${port}`], value: new SecretValue('short-lived-real-value-000'), actor: 't' });
    h.store.createSandbox({ name: 'doomed', allowHosts: [], bindings: [{ env: 'T', secretName: 'short-lived' }], actor: 't' });
    const tls = await openTunnel(h.gateway.address.port, `api.standin.test:${port}`, basicAuth('doomed', h.store.proxyKey('doomed')), h.caPem, 'api.standin.test');
    const ask = (): Promise<string> =>
      new Promise((resolve) => {
        let out = '';
        const onData = (c: Buffer): void => {
          out += c.toString('latin1');
          const end = out.indexOf('\r\n\r\n');
          const len = /content-length: (\d+)/i.exec(out);
          if (end >= 0 && len && Buffer.byteLength(out, "latin1") >= end + 4 + Number(len[1])) {
            tls.off('data', onData);
            resolve(out);
          }
        };
        tls.on('data', onData);
        tls.on('close', () => resolve(`CLOSED ${out}`));
        // /bytes answers with a Content-Length (unswapped responses keep it), so one response can
        // be read off the stream.
        tls.write(`GET /bytes?n=10 HTTP/1.1\r\nHost: api.standin.test:${port}\r\n\r\n`);
      });
    const first = await ask();
    expect(first.slice(0, 300)).toMatch(/^HTTP\/1\.1 200/);
    h.store.deleteSandbox('doomed', 't');
    const before = h.upstream.received.length;
    const second = await ask();
    tls.destroy();
    expect(second.startsWith('HTTP/1.1 407')).toBe(true);
    expect(h.upstream.received.length).toBe(before);
  });
});
