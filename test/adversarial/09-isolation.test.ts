import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import type { Store } from '../../src/store/types.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { CERTS } from '../helpers/upstream.js';
import { viaProxy } from '../helpers/client.js';

/**
 * Sandboxes never share upstream connections: not within a tenant, not across tenants. Against a
 * server that keeps state per connection, a shared keep-alive pool would let one sandbox act as, or
 * read for, another; a late response on an idle connection would reach whoever sends next; and one
 * sandbox's slow requests would hold the sockets every other sandbox needs.
 */

const REAL_A = 'sk-REAL-tenantA-9f8e7d6c5b4a39281706';
const REAL_ACME = 'sk-REAL-acme-1a2b3c4d5e6f7a8b9c0d';
const tls = { cert: readFileSync(join(CERTS, 'upstream.pem')), key: readFileSync(join(CERTS, 'upstream-key.pem')) };

function listen(server: Server | ReturnType<typeof createTlsServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/**
 * NTLM/session-style upstream: the first Authorization on a connection logs that connection in,
 * and later requests on it are served as that identity, credential included. Connections are
 * numbered so the test can see which request used which.
 */
function statefulUpstream(): { server: Server; seen: { conn: number; auth: string | undefined; path: string }[] } {
  const seen: { conn: number; auth: string | undefined; path: string }[] = [];
  const identity = new WeakMap<Socket, string>();
  const ids = new WeakMap<Socket, number>();
  let next = 0;
  const server = createHttpsServer(tls, (req, res) => {
    const socket = req.socket;
    if (!ids.has(socket)) ids.set(socket, ++next);
    const auth = req.headers.authorization;
    seen.push({ conn: ids.get(socket) ?? 0, auth, path: req.url ?? '' });
    if (auth !== undefined && !identity.has(socket)) identity.set(socket, auth);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ conn: ids.get(socket), loggedInAs: identity.get(socket) ?? null }));
  });
  server.keepAliveTimeout = 30_000;
  return { server, seen };
}

let h: Harness;
let stateful: ReturnType<typeof statefulUpstream>;
let statefulPort: number;
let tokenA: string;
let tokenAcme: string;

beforeAll(async () => {
  stateful = statefulUpstream();
  statefulPort = await listen(stateful.server);
  h = await startHarness({ allowDest: [`127.0.0.1:${statefulPort}`] });
  const hosts = [`api.standin.test:${statefulPort}`];
  h.store.createSecret({ name: 'a-key', scheme: { kind: 'bearer' }, hosts, value: new SecretValue(REAL_A), actor: 't' });
  tokenA = h.store.createSandbox({ name: 'holder', allowHosts: [], bindings: [{ env: 'K', secretName: 'a-key' }], actor: 't' }).bindings[0]?.token ?? '';
  h.store.createSandbox({ name: 'empty', allowHosts: [], bindings: [], actor: 't' });
  h.store.createTenant('acme', 't');
  const acme = h.store.forTenant('acme');
  acme.createSecret({ name: 'a-key', scheme: { kind: 'bearer' }, hosts, value: new SecretValue(REAL_ACME), actor: 't' });
  tokenAcme = acme.createSandbox({ name: 'holder', allowHosts: [], bindings: [{ env: 'K', secretName: 'a-key' }], actor: 't' }).bindings[0]?.token ?? '';
  acme.createSandbox({ name: 'other', allowHosts: [], bindings: [], actor: 't' });
});

afterAll(async () => {
  await h.close();
  stateful.server.close();
});

function proxyOf(store: Pick<Store, 'proxyKey'>, name: string): string {
  return `http://${name}:${store.proxyKey(name)}@127.0.0.1:${h.gateway.address.port}`;
}

describe('connections belong to one sandbox', () => {
  it('a token-less sandbox never rides the connection a swapped request opened (same tenant)', async () => {
    const url = `https://api.standin.test:${statefulPort}/whoami`;
    const swapped = await viaProxy(proxyOf(h.store, 'holder'), h.caPem, url, { headers: { authorization: `Bearer ${tokenA}` } });
    expect(swapped.status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const other = await viaProxy(proxyOf(h.store, 'empty'), h.caPem, url);
      expect(other.status).toBe(200);
      expect(JSON.parse(other.body)).toMatchObject({ loggedInAs: null });
      expect(other.body).not.toContain(REAL_A);
    }
    const a = stateful.seen.find((s) => s.auth === `Bearer ${REAL_A}`);
    const emptyConns = stateful.seen.filter((s) => s.auth === undefined).map((s) => s.conn);
    expect(a).toBeDefined();
    expect(emptyConns).not.toContain(a?.conn);
    // The holder's own next request does reuse its connection: the pool still works per sandbox.
    const again = await viaProxy(proxyOf(h.store, 'holder'), h.caPem, url);
    expect(JSON.parse(again.body)).toMatchObject({ conn: a?.conn });
    // ...and what that connection knows about the holder is scrubbed even for the holder.
    expect(again.body).not.toContain(REAL_A);
  });

  it('nor does a sandbox of another tenant, with the same sandbox and secret names', async () => {
    const url = `https://api.standin.test:${statefulPort}/acme`;
    const acme = h.store.forTenant('acme');
    const swapped = await viaProxy(proxyOf(acme, 'holder'), h.caPem, url, { headers: { authorization: `Bearer ${tokenAcme}` } });
    expect(swapped.status).toBe(200);
    const acmeConn = stateful.seen.find((s) => s.auth === `Bearer ${REAL_ACME}`)?.conn;
    for (const [store, name] of [[h.store, 'holder'], [h.store, 'empty'], [acme, 'other']] as const) {
      const r = await viaProxy(proxyOf(store, name), h.caPem, url);
      expect(r.body).not.toContain(REAL_ACME);
      expect(JSON.parse(r.body).conn).not.toBe(acmeConn);
    }
    expect(h.logs()).not.toContain(REAL_ACME);
    expect(JSON.stringify(h.rows())).not.toContain(REAL_ACME);
  });
});

describe('a response nobody asked for', () => {
  it('closes the idle connection it arrives on and is never handed to the next request', async () => {
    // A raw upstream: answers each request, then 100 ms later writes an unsolicited response
    // carrying the credential it was sent, on the now idle keep-alive connection.
    let connections = 0;
    const closedBeforeSecond: boolean[] = [];
    let firstClosed = false;
    const server = createTlsServer(tls, (socket: TLSSocket) => {
      connections += 1;
      const n = connections;
      let buf = '';
      socket.on('close', () => {
        if (n === 1) firstClosed = true;
      });
      socket.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        while (buf.includes('\r\n\r\n')) {
          const head = buf.slice(0, buf.indexOf('\r\n\r\n'));
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          const auth = /authorization: ([^\r\n]*)/i.exec(head)?.[1] ?? 'none';
          const path = head.split(' ')[1] ?? '';
          const body = `answer to ${path}`;
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`);
          const late = `LATE ${auth}`;
          setTimeout(() => {
            if (!socket.destroyed) socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${late.length}\r\n\r\n${late}`);
          }, 100);
        }
      });
      socket.on('error', () => socket.destroy());
    });
    const port = await listen(server);
    const lab = await startHarness({ allowDest: [`127.0.0.1:${port}`] });
    try {
      lab.store.createSecret({ name: 'k', scheme: { kind: 'bearer' }, hosts: [`api.standin.test:${port}`], value: new SecretValue(REAL_A), actor: 't' });
      const token = lab.store.createSandbox({ name: 'sb', allowHosts: [], bindings: [{ env: 'K', secretName: 'k' }], actor: 't' }).bindings[0]?.token ?? '';
      lab.store.createSandbox({ name: 'next', allowHosts: [], bindings: [], actor: 't' });
      const proxy = (n: string): string => `http://${n}:${lab.store.proxyKey(n)}@127.0.0.1:${lab.gateway.address.port}`;
      const first = await viaProxy(proxy('sb'), lab.caPem, `https://api.standin.test:${port}/one`, { headers: { authorization: `Bearer ${token}` } });
      expect(first.body).toBe('answer to /one');
      await new Promise((r) => setTimeout(r, 300));
      closedBeforeSecond.push(firstClosed);
      for (const who of ['sb', 'next']) {
        const second = await viaProxy(proxy(who), lab.caPem, `https://api.standin.test:${port}/two`);
        expect(second.body).toBe('answer to /two');
        expect(second.body).not.toContain('LATE');
        expect(second.body).not.toContain(REAL_A);
      }
      expect(closedBeforeSecond).toEqual([true]);
      expect(lab.logs()).not.toContain(REAL_A);
    } finally {
      await lab.close();
      server.close();
    }
  });
});

describe('one sandbox cannot starve the others', () => {
  it('a sandbox holding slow requests to a host is capped; another sandbox is served at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const held: (() => void)[] = [];
    const server = createHttpsServer(tls, (req, res) => {
      if (req.url === '/slow') {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        held.push(() => {
          inFlight -= 1;
          res.end('slow');
        });
        return;
      }
      res.end('fast');
    });
    const port = await listen(server);
    const lab = await startHarness({ allowDest: [`127.0.0.1:${port}`], limits: { upstreamSocketsPerHost: 4 } });
    try {
      lab.store.createSandbox({ name: 'flood', allowHosts: [], bindings: [], actor: 't' });
      lab.store.createSandbox({ name: 'victim', allowHosts: [], bindings: [], actor: 't' });
      const proxy = (n: string): string => `http://${n}:${lab.store.proxyKey(n)}@127.0.0.1:${lab.gateway.address.port}`;
      const url = `https://api.standin.test:${port}`;
      let answered = 0;
      const flood = Array.from({ length: 10 }, () => viaProxy(proxy('flood'), lab.caPem, `${url}/slow`).finally(() => (answered += 1)));
      const deadline = Date.now() + 5_000;
      while (inFlight < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200));
      // The flooding sandbox has all it may have; its other requests wait in its own queue.
      expect(inFlight).toBe(4);
      const started = Date.now();
      const victim = await viaProxy(proxy('victim'), lab.caPem, `${url}/slow-not`);
      expect(victim.body).toBe('fast');
      expect(Date.now() - started).toBeLessThan(2_000);
      // Released one by one, the queued requests of the flooding sandbox are all answered in turn.
      while (answered < 10 && Date.now() < deadline + 10_000) {
        held.shift()?.();
        await new Promise((r) => setTimeout(r, 20));
      }
      const answers = await Promise.all(flood);
      expect(answers.map((a) => a.body)).toEqual(Array.from({ length: 10 }, () => 'slow'));
      expect(peak).toBe(4);
    } finally {
      await lab.close();
      server.close();
    }
  });
});
