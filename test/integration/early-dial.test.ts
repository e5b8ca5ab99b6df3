import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { basicAuth, openTunnel, rawConnect, rawExchange } from '../helpers/client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { CERTS } from '../helpers/upstream.js';

/**
 * The upstream connection of a tunnel to an origin its sandbox has not reached yet is dialled
 * when the tunnel opens, so the upstream handshake overlaps the sandbox's own. It is the same
 * pinned, verified, per-sandbox connection a request would open: the first request goes on it,
 * another sandbox never gets it, a self-test tunnel dials nothing, and one never used is closed.
 */

const REAL = 'sk-real-early-dial-0123456789REALSECRET';
let h: Harness;
let server: Server;
let port: number;
let target: string;
const tokens: Record<string, string> = {};
// Every TLS connection the upstream accepted, in order, and which one each request came on.
const connections: { at: number; socket: Socket; closedAt?: number }[] = [];
const requests: { connection: number; authorization: string | undefined; url: string }[] = [];

beforeAll(async () => {
  server = createServer({ cert: readFileSync(join(CERTS, 'upstream.pem')), key: readFileSync(join(CERTS, 'upstream-key.pem')) }, (req, res) => {
    requests.push({ connection: connections.findIndex((c) => c.socket === req.socket), authorization: req.headers.authorization, url: req.url ?? '' });
    res.end('{"ok":true}');
  });
  server.on('secureConnection', (socket: Socket) => {
    const entry: { at: number; socket: Socket; closedAt?: number } = { at: Date.now(), socket };
    connections.push(entry);
    socket.once('close', () => (entry.closedAt = Date.now()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  port = addr.port;
  target = `api.standin.test:${port}`;
  h = await startHarness({ allowDest: [`127.0.0.1:${port}`] });
  h.store.createSecret({ name: 'key', scheme: { kind: 'bearer' }, hosts: [target], value: new SecretValue(REAL), actor: 't' });
  for (const name of ['alpha', 'beta', 'gamma', 'delta']) {
    tokens[name] = h.store.createSandbox({ name, allowHosts: [], bindings: [{ env: 'K', secretName: 'key' }], actor: 't' }).bindings[0]?.token ?? '';
  }
});

afterAll(async () => {
  await h.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const tunnel = (sandbox: string) => openTunnel(h.gateway.address.port, target, basicAuth(sandbox, h.store.proxyKey(sandbox)), h.caPem, 'api.standin.test');

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const get = (sandbox: string, path: string) => `GET ${path} HTTP/1.1\r\nHost: ${target}\r\nAuthorization: Bearer ${tokens[sandbox]}\r\nConnection: close\r\n\r\n`;

describe('early upstream dial', () => {
  it('dials when the tunnel opens, before any request, and the first request goes on that connection', async () => {
    const t = await tunnel('alpha');
    // No request sent yet: the upstream already has the sandbox's connection.
    await until('the early connection', () => connections.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    const reply = await rawExchange(t, get('alpha', '/first'));
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(reply).not.toContain(REAL);
    expect(connections).toHaveLength(1);
    expect(requests).toEqual([{ connection: 0, authorization: `Bearer ${REAL}`, url: '/first' }]);
  });

  it('another sandbox gets a connection of its own, never the first one', async () => {
    const t = await tunnel('beta');
    await until('beta\'s early connection', () => connections.length === 2);
    const reply = await rawExchange(t, get('beta', '/beta'));
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(requests.at(-1)).toMatchObject({ connection: 1, url: '/beta' });
    // alpha's next tunnel finds its own pooled connection (and dials nothing new).
    const again = await tunnel('alpha');
    const second = await rawExchange(again, get('alpha', '/again'));
    expect(second).toMatch(/^HTTP\/1\.1 200/);
    expect(requests.at(-1)).toMatchObject({ connection: 0, url: '/again' });
    expect(connections).toHaveLength(2);
  });

  it('a self-test tunnel dials nothing', async () => {
    const before = connections.length;
    const auth = basicAuth('gamma', h.store.proxyKey('gamma'));
    const { head, socket } = await rawConnect(h.gateway.address.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${auth}\r\nStandin-Check: 1\r\n\r\n`);
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    expect(connections.length).toBe(before);
  });

  it('an early connection no request used is closed by the gateway', async () => {
    const before = connections.length;
    const t = await tunnel('delta');
    await until('delta\'s early connection', () => connections.length === before + 1);
    const early = connections[before];
    // The tunnel stays open and silent; the unused upstream connection goes after a few seconds.
    await until('the unused connection to close', () => early?.closedAt !== undefined, 9_000);
    expect(requests.filter((r) => r.connection === before)).toEqual([]);
    t.destroy();
  }, 15_000);
});
