import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { CERTS } from '../helpers/upstream.js';
import { startAdv, type Adv } from './setup.js';
import { expectProblem, httpReq, once } from './wire.js';

// Class 11 — OAuth2: the gateway's own token requests. A token endpoint that reflects what it was
// sent (client secret, refresh token) or hands out tokens the API then echoes, a token URL that
// leads to a private address, and an endpoint that fails: no value reaches the sandbox, pino or
// the network log, and the token request never goes where egress would not let a sandbox go.

const CLIENT_SECRET = 'REAL-adv-client-secret-Cs44';
const REFRESH = 'REAL-adv-refresh-Rf71';
let token = 0;
const minted: string[] = [];
let mode: 'ok' | 'fail' = 'ok';
let server: Server;
let port: number;
let tokenRequests = 0;
let a: Adv;
let api: string;
let t: Record<string, string>;

beforeAll(async () => {
  // A hostile token endpoint: it reflects the request (Basic client credentials, the form with the
  // refresh token) in its answer, success or failure, and in a header.
  server = createServer({ cert: readFileSync(join(CERTS, 'upstream.pem')), key: readFileSync(join(CERTS, 'upstream-key.pem')) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      tokenRequests++;
      const echo = { headers: req.headers, form: Buffer.concat(chunks).toString() };
      const access = `REAL-adv-access-${++token}-At9`;
      minted.push(access);
      res.writeHead(mode === 'ok' ? 200 : 401, { 'content-type': 'application/json', 'x-echo': String(req.headers.authorization) });
      res.end(JSON.stringify(mode === 'ok' ? { access_token: access, token_type: 'Bearer', expires_in: 60, echo } : { error: 'invalid_client', echo, access_token: access }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  a = await startAdv({ resolve: { 'auth.standin.test': '127.0.0.1', 'metadata.standin.test': '169.254.169.254' }, allowDest: [`127.0.0.1:${port}`] });
  api = `api.standin.test:${a.upstream.port}`;
  const doc = (tokenUrl: string, extra: Record<string, string> = {}): string => JSON.stringify({ clientId: 'adv', clientSecret: CLIENT_SECRET, tokenUrl, ...extra });
  const mk = (name: string, value: string): void =>
    void a.store.createSecret({ name, scheme: { kind: 'oauth2' }, hosts: [api], value: new SecretValue(value), actor: 'adv' });
  mk('good', doc(`https://auth.standin.test:${port}/token`, { refreshToken: REFRESH }));
  mk('metadata', doc('https://metadata.standin.test/latest/meta-data/'));
  mk('loopback', doc(`https://127.0.0.1:${a.gw}/token`));
  mk('not-json', 'this is not a document');
  const sb = a.store.createSandbox({
    name: 'mallory',
    allowHosts: [],
    bindings: ['good', 'metadata', 'loopback', 'not-json'].map((s) => ({ env: s.toUpperCase().replace('-', '_'), secretName: s })),
    actor: 'adv',
  });
  t = Object.fromEntries(sb.bindings.map((b) => [b.env, b.token]));
});

afterAll(async () => {
  await a.close();
  await new Promise((r) => server.close(r));
});

function expectClean(...texts: string[]): void {
  const values = [CLIENT_SECRET, REFRESH, ...minted];
  for (const text of [...texts, a.logs(), JSON.stringify(a.rows())]) {
    for (const v of values) for (const form of [v, encodeURIComponent(v), Buffer.from(v).toString('base64')]) expect(text).not.toContain(form);
  }
}

const get = (tok: string, path = '/echo'): string => httpReq('GET', path, api, [['Authorization', `Bearer ${tok}`]]);

describe('oauth2 token exchange under attack', () => {
  it('an API that echoes the access token gives the sandbox its stand-in; the reflecting token endpoint is never relayed', async () => {
    mode = 'ok';
    const before = a.upstream.received.length;
    const res = await once(a, api, 'mallory', get(t.GOOD!));
    expect(res.status).toBe(200);
    expect(a.upstream.received[before]?.headers.authorization).toBe(`Bearer ${minted.at(-1)}`);
    expect(res.text).toContain(`Bearer ${t.GOOD!}`);
    // /reflect puts the credential in Location, WWW-Authenticate and Set-Cookie.
    const reflected = await once(a, api, 'mallory', get(t.GOOD!, '/reflect'));
    expectClean(res.all, reflected.all);
  });

  it('a failing token endpoint that reflects the client secret: 502, its answer never relayed or logged', async () => {
    mode = 'fail';
    // A new sandbox's view: no cached token for this secret's environment... force a refetch.
    a.store.rotateSecret('good', new SecretValue(JSON.stringify({ clientId: 'adv', clientSecret: CLIENT_SECRET, tokenUrl: `https://auth.standin.test:${port}/token`, refreshToken: REFRESH })), 'adv');
    const before = a.upstream.received.length;
    const res = await once(a, api, 'mallory', get(t.GOOD!));
    await expectProblem(a, res, 502, 'GW_TOKEN_EXCHANGE');
    expect(a.upstream.received.length).toBe(before);
    expectClean(res.all);
    mode = 'ok';
  });

  it.each([
    ['a name that resolves to the metadata address', 'METADATA'],
    ['the gateway itself on loopback', 'LOOPBACK'],
  ])('a token URL to %s is refused before any connection (no SSRF)', async (_what, env) => {
    const requests = tokenRequests;
    const before = a.upstream.received.length;
    const res = await once(a, api, 'mallory', get(t[env]!));
    await expectProblem(a, res, 502, 'GW_TOKEN_EXCHANGE');
    expect(tokenRequests).toBe(requests);
    expect(a.upstream.received.length).toBe(before);
    expectClean(res.all);
  });

  it('a value that is not a client document is refused, and says so without the value', async () => {
    const res = await once(a, api, 'mallory', get(t.NOT_JSON!));
    await expectProblem(a, res, 502, 'GW_SECRET_UNFIT');
    expect(res.all + a.logs()).not.toContain('this is not a document');
  });
});
