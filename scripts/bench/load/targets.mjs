// How the client reaches the upstream in each column. A target is plain JSON (it crosses a
// process boundary):
//   { mode: 'direct' | 'proxy', proxy?: { host, port }, ca: PEM the client trusts,
//     upstreamPort, creds: [{ proxyAuth?: 'Basic ...', authorization: 'Bearer ...' }] }
// direct: TLS straight to 127.0.0.1:upstreamPort with SNI = the bench host name, the real value
// in Authorization. proxy: CONNECT host:port through the gateway, TLS inside the tunnel with the
// gateway's CA, the stand-in token in Authorization (the gateway swaps it).
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Agent, ProxyAgent } from 'undici';

export const HOST = 'api.standin.test';

/** Answers every lookup with 127.0.0.1 (direct mode only; proxies resolve on their own). */
export function loopbackLookup(_hostname, options, callback) {
  if (options?.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}

/** A keep-alive undici dispatcher with at most `connections` connections (tunnels). */
export function makeDispatcher(target, { connections, cred = target.creds[0] }) {
  const common = { connections, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000, headersTimeout: 30_000, bodyTimeout: 60_000 };
  if (target.mode === 'direct') {
    return new Agent({ ...common, connect: { ca: target.ca, lookup: loopbackLookup } });
  }
  return new ProxyAgent({
    ...common,
    uri: `http://${target.proxy.host}:${target.proxy.port}`,
    ...(cred.proxyAuth ? { token: cred.proxyAuth } : {}),
    requestTls: { ca: target.ca },
  });
}

export function origin(target, host = HOST) {
  return `https://${host}:${target.upstreamPort}`;
}

/**
 * Opens a fresh TLS connection to `host` — through a new CONNECT tunnel when proxied — and returns
 * { socket, connectMs, tlsMs } (times from t0, performance.now()).
 */
export async function openTls(target, host, cred, t0, timeoutMs = 15_000) {
  let raw;
  let connectMs = null;
  if (target.mode === 'proxy') {
    raw = await connectTunnel(target, host, cred, timeoutMs);
    connectMs = performance.now() - t0;
  }
  const socket = await new Promise((resolve, reject) => {
    const opts = { servername: host, ca: target.ca, ALPNProtocols: ['http/1.1'] };
    const s = raw ? tlsConnect({ ...opts, socket: raw }) : tlsConnect({ ...opts, host: '127.0.0.1', port: target.upstreamPort });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('TLS handshake timeout'));
    }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      raw?.destroy();
      reject(e);
    });
  });
  return { socket, connectMs, tlsMs: performance.now() - t0 };
}

function connectTunnel(target, host, cred, timeoutMs) {
  return new Promise((resolve, reject) => {
    const authority = `${host}:${target.upstreamPort}`;
    const headers = { host: authority };
    if (cred.proxyAuth) headers['proxy-authorization'] = cred.proxyAuth;
    const req = httpRequest({ host: target.proxy.host, port: target.proxy.port, method: 'CONNECT', path: authority, headers, agent: false });
    const timer = setTimeout(() => {
      req.destroy(new Error('CONNECT timeout'));
    }, timeoutMs);
    req.once('connect', (res, socket, head) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`CONNECT ${res.statusCode}`));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once('response', (res) => {
      clearTimeout(timer);
      res.resume();
      reject(new Error(`CONNECT answered ${res.statusCode}`));
    });
    req.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
}

/**
 * One GET over an already open TLS socket. keepAlive=false sends Connection: close; true leaves
 * the socket open (idle tunnels). Resolves { status, body } once the body is read.
 */
export function getOver(socket, target, host, path, cred, { keepAlive, timeoutMs = 15_000 }) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host,
      port: target.upstreamPort,
      path,
      // No agent: with createConnection and no agent, node uses exactly this socket.
      createConnection: () => socket,
      headers: {
        host: `${host}:${target.upstreamPort}`,
        authorization: cred.authorization,
        connection: keepAlive ? 'keep-alive' : 'close',
      },
    });
    const timer = setTimeout(() => req.destroy(new Error('request timeout')), timeoutMs);
    req.once('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.once('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() });
      });
      res.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
}
