import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { basicAuth } from '../helpers/client.js';
import { removeHome, standin } from '../helpers/serve.js';
import { expectCleanEverywhere, plant, startAdv, type Adv, type Planted } from './setup.js';
import { connectRaw, dial, expectProblem, expectRefusedAny, httpReq, once, type Res } from './wire.js';

// Class 8 — control plane: proxy credentials, the gateway's own files, and secret values in errors.

let a: Adv;
let p: Planted;

beforeAll(async () => {
  a = await startAdv();
  p = plant(a);
});

afterAll(async () => {
  await a.close();
});

async function connectAs(auth: string | undefined, extra: string[] = []): Promise<Res> {
  const { res, wire } = await connectRaw(a.gw, p.api, auth, extra);
  wire.socket.destroy();
  return res;
}

async function expect407(res: Res): Promise<void> {
  const row = await expectProblem(a, res, 407, 'GW_PROXY_AUTH');
  expect(res.headers['proxy-authenticate']).toEqual(['Basic realm="standin"']);
  expect(row).toMatchObject({ sandbox: null, method: 'CONNECT' });
}

describe('proxy credentials', () => {
  it('missing: 407 problem+json with Proxy-Authenticate', async () => {
    await expect407(await connectAs(undefined));
  });

  it("wrong key, and another sandbox's key under this name: 407", async () => {
    await expect407(await connectAs(basicAuth('alpha', 'not-the-key')));
    await expect407(await connectAs(basicAuth('alpha', a.store.proxyKey('beta'))));
    await expect407(await connectAs(basicAuth('nobody', a.store.proxyKey('alpha'))));
  });

  it('malformed: not base64, no colon, empty name, other schemes, empty', async () => {
    const key = a.store.proxyKey('alpha');
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const bad = ['Basic !!!not*base64!!!', `Basic ${b64(`alpha${key}`)}`, `Basic ${b64(`:${key}`)}`, `Bearer ${key}`, `Digest username="alpha", response="${key}"`, 'Basic', 'Basic ', `Basic ${b64(`alpha:${key}`)} extra`, `Basic ${b64(`alpha:${key}`)}==`];
    for (const auth of bad) await expect407(await connectAs(auth));
  });

  it('huge Proxy-Authorization (8 KB): 407; beyond the header limit (20 KB): refused and logged', async () => {
    await expect407(await connectAs(`Basic ${'A'.repeat(8_000)}`));
    const res = await connectAs(`Basic ${'A'.repeat(20_000)}`);
    expect([400, 431]).toContain(res.status);
    await expectProblem(a, res, res.status, JSON.parse(res.text).code as string);
  });

  it('two Proxy-Authorization headers (right and wrong, or right twice): 407', async () => {
    await expect407(await connectAs(a.auth('alpha'), [`Proxy-Authorization: ${basicAuth('alpha', 'wrong')}`]));
    await expect407(await connectAs(basicAuth('alpha', 'wrong'), [`Proxy-Authorization: ${a.auth('alpha')}`]));
    await expect407(await connectAs(a.auth('alpha'), [`Proxy-Authorization: ${a.auth('beta')}`]));
  });

  it('Proxy-Authorization and other hop-by-hop headers sent inside the tunnel never reach the upstream', async () => {
    const before = a.upstream.received.length;
    const res = await once(
      a,
      p.api,
      'alpha',
      httpReq('GET', '/echo', p.api, [
        ['Proxy-Authorization', a.auth('alpha')],
        ['Proxy-Connection', 'keep-alive'],
        ['Proxy-Authenticate', 'x'],
        ['Connection', 'X-Hop-Secret'],
        ['X-Hop-Secret', a.store.proxyKey('alpha')],
        ['Authorization', `Bearer ${p.alpha.bearer}`],
      ]),
    );
    expect(res.status).toBe(200);
    const e = a.upstream.received[before]!;
    expect(e.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()).filter((h) => h.startsWith('proxy-') || h === 'x-hop-secret')).toEqual([]);
    expect(JSON.stringify(e)).not.toContain(a.store.proxyKey('alpha'));
    expectCleanEverywhere(a, res.all);
  });

  it("the plain-HTTP request's Proxy-Authorization is not forwarded upstream", async () => {
    const before = a.lab.httpReceived.length;
    const w = await dial(a.gw);
    w.write(httpReq('GET', `http://api.standin.test:${a.lab.httpPort}/echo`, 'decoy.example', [['Proxy-Authorization', a.auth('alpha')], ['Proxy-Connection', 'keep-alive'], ['Connection', 'close']]));
    const res = await w.response();
    w.socket.destroy();
    expect(res.status).toBe(200);
    const e = a.lab.httpReceived[before]!;
    expect(e.headers['proxy-authorization']).toBeUndefined();
    expect(e.headers['proxy-connection']).toBeUndefined();
    expect(e.headers.host).toBe(`api.standin.test:${a.lab.httpPort}`);
    expect(JSON.stringify(e)).not.toContain(a.store.proxyKey('alpha'));
  });
});

describe("the gateway's own files", () => {
  it('CA key directory and file are private (0700 / 0600)', () => {
    expect(statSync(join(a.home, 'ca')).mode & 0o777).toBe(0o700);
    expect(statSync(join(a.home, 'ca', 'ca-key.pem')).mode & 0o777).toBe(0o600);
  });

  it('`standin init` writes master.key and the CA key 0600', () => {
    const home = mkdtempSync(join(tmpdir(), 'standin-adv-init-'));
    try {
      const r = standin(home, ['init']);
      expect(r.code, r.stderr).toBe(0);
      expect(statSync(join(home, 'master.key')).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, 'ca', 'ca-key.pem')).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, 'ca')).mode & 0o777).toBe(0o700);
      const key = readFileSync(join(home, 'master.key'), 'utf8').trim();
      expect(r.stdout + r.stderr).not.toContain(key);
    } finally {
      removeHome(home);
    }
  });

  it('origin-form requests for key files on the proxy port are refused, never served', async () => {
    const caKey = readFileSync(join(a.home, 'ca', 'ca-key.pem'), 'utf8');
    const keyBody = caKey.split('\n').slice(1, 3).join('');
    for (const path of ['/ca-key.pem', '/ca/ca-key.pem', '/master.key', '/standin.db', '/../ca/ca-key.pem', '/']) {
      for (const auth of [undefined, a.auth('alpha')]) {
        const w = await dial(a.gw);
        w.write(httpReq('GET', path, `127.0.0.1:${a.gw}`, auth ? [['Proxy-Authorization', auth]] : []));
        const res = await w.response();
        w.socket.destroy();
        expect([400, 407], path).toContain(res.status);
        await expectProblem(a, res, res.status, res.status === 407 ? 'GW_PROXY_AUTH' : 'GW_BAD_TARGET');
        expect(res.all).not.toContain('PRIVATE KEY');
        expect(res.all).not.toContain(keyBody);
      }
    }
  });

  it('an absolute URL naming the proxy port itself is refused', async () => {
    await expectRefusedAny(
      a,
      async () => {
        const w = await dial(a.gw);
        w.write(httpReq('GET', `http://127.0.0.1:${a.gw}/ca-key.pem`, `127.0.0.1:${a.gw}`, [['Proxy-Authorization', a.auth('alpha')]]));
        const res = await w.response();
        w.socket.destroy();
        return res;
      },
      [
        [403, 'GW_SELF_TARGET'],
        [403, 'GW_PRIVATE_ADDRESS'],
        [403, 'GW_PORT_DENIED'],
      ],
    );
  });
});

describe('secret values never in errors', () => {
  it('a swapped request to an upstream with an untrusted certificate fails closed: 502, value neither sent nor logged', async () => {
    const host = `api.standin.test.evil.net:${p.port}`;
    a.store.createSecret({ name: 'tls-s', scheme: { kind: 'bearer' }, hosts: [host], value: new SecretValue('tls-real-value-T1sT1sT1s'), actor: 'adv' });
    const b = a.store.bind('alpha', 'TLS', 'tls-s', 'adv');
    const before = a.upstream.received.length;
    const res = await once(a, host, 'alpha', httpReq('GET', '/echo', host, [['Authorization', `Bearer ${b.token}`]]), { servername: 'api.standin.test.evil.net' });
    await expectProblem(a, res, 502, 'GW_UPSTREAM_TLS');
    expect(a.upstream.received.length).toBe(before);
    expect(res.all + a.logs() + JSON.stringify(a.rows())).not.toContain('tls-real-value-T1sT1sT1s');
  });

  it('CLI errors never echo a value given on stdin', () => {
    const home = mkdtempSync(join(tmpdir(), 'standin-adv-cli-'));
    const value = 'cli-real-value-C1iC1iC1i';
    try {
      expect(standin(home, ['init']).code).toBe(0);
      const runs = [
        standin(home, ['secret', 'create', 'bad', '--hosts', 'not a host!', '--value-stdin'], value),
        standin(home, ['secret', 'create', 'bad', '--hosts', '*.com', '--value-stdin'], value),
        standin(home, ['secret', 'create', 'bad name', '--hosts', 'a.test', '--value-stdin'], value),
        standin(home, ['secret', 'rotate', 'missing', '--value-stdin'], value),
        standin(home, ['secret', 'create', 'ctl', '--hosts', 'a.test', '--value-stdin'], `${value}\u0007\u001b[2J`),
        standin(home, ['secret', 'create', 'ok', '--hosts', 'a.test', '--value-stdin'], value),
        standin(home, ['secret', 'create', 'ok', '--hosts', 'a.test', '--value-stdin'], value),
        standin(home, ['secret', 'show', 'ok', '--json']),
        standin(home, ['secret', 'list', '--json']),
        standin(home, ['audit', '--json']),
      ];
      expect(runs.slice(0, 5).every((r) => r.code === 2)).toBe(true);
      for (const r of runs) expect(r.stdout + r.stderr).not.toContain(value);
      expect(runs[4]!.stderr).not.toContain('\u001b');
    } finally {
      removeHome(home);
    }
  });
});
