import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plant, startAdv, type Adv, type Planted } from './setup.js';
import { connectRaw, dial, expectRefusedAny, httpReq, type Res } from './wire.js';

// Class 5 — network: private, loopback, link-local and metadata destinations, however spelled or
// resolved, and the gateway's own port, are refused before any connection, with a logged reason.
// The private addresses below are never really dialled: the gateway must refuse first.

const PRIVATE_NAMES: Record<string, string> = {
  'meta.standin.test': '169.254.169.254',
  'internal.standin.test': '10.0.0.5',
  'rfc1918b.standin.test': '172.20.1.1',
  'home.standin.test': '192.168.1.1',
  'cgnat.standin.test': '100.64.1.1',
  'ula.standin.test': 'fd12::1',
  'mapped.standin.test': '::ffff:10.0.0.5',
  'v6meta.standin.test': 'fd00:ec2::254',
  'linklocal6.standin.test': 'fe80::1',
  'azure.standin.test': '168.63.129.16',
  'zero.standin.test': '0.0.0.0',
};

let a: Adv;
let p: Planted;
let open: Adv; // --allow-dest 127.0.0.1 (every port)

beforeAll(async () => {
  a = await startAdv({ resolve: PRIVATE_NAMES });
  p = plant(a);
  open = await startAdv({ allowAllLoopbackPorts: true });
  open.store.createSandbox({ name: 'alpha', allowHosts: [], bindings: [], actor: 'adv' });
});

afterAll(async () => {
  await a.close();
  await open.close();
});

async function connectAnswer(on: Adv, authority: string): Promise<Res> {
  const { res, wire } = await connectRaw(on.gw, authority, on.auth('alpha'));
  wire.socket.destroy();
  return res;
}

const PRIVATE: [number, string][] = [[403, 'GW_PRIVATE_ADDRESS']];

/** Every authority is refused at CONNECT with one of `accepted`, logged against the sandbox. */
async function expectConnectRefused(on: Adv, authorities: string[], accepted: [number, string][] = PRIVATE): Promise<void> {
  for (const authority of authorities) {
    const { row } = await expectRefusedAny(on, () => connectAnswer(on, authority), accepted);
    expect(row, authority).toMatchObject({ method: 'CONNECT', sandbox: 'alpha' });
    expect(row.upstreamIp, authority).toBeNull();
  }
}

describe('IP literals', () => {
  it('loopback on the HTTPS port: 127.0.0.1:443', async () => {
    await expectConnectRefused(a, ['127.0.0.1:443']);
  });

  it('another loopback address on the one allowed port: 127.0.0.2:PORT', async () => {
    await expectConnectRefused(a, [`127.0.0.2:${p.port}`]);
  });

  it('RFC 1918 ranges', async () => {
    await expectConnectRefused(a, ['10.0.0.5:443', '172.16.0.1:443', '172.31.255.254:443', '192.168.1.1:443']);
  });

  it('CGNAT 100.64.0.0/10', async () => {
    await expectConnectRefused(a, ['100.64.0.1:443', '100.127.255.254:443']);
  });

  it('cloud metadata 169.254.169.254 (443 and 80) and Azure 168.63.129.16', async () => {
    await expectConnectRefused(a, ['169.254.169.254:443', '169.254.169.254:80', '168.63.129.16:443', '169.254.1.1:443']);
  });

  it('metadata over the plain-HTTP proxy: GET http://169.254.169.254/latest/meta-data/', async () => {
    const { row } = await expectRefusedAny(
      a,
      async () => {
        const w = await dial(a.gw);
        w.write(httpReq('GET', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/', '169.254.169.254', [['Proxy-Authorization', a.auth('alpha')], ['Metadata-Flavor', 'Google']]));
        const res = await w.response();
        w.socket.destroy();
        return res;
      },
      PRIVATE,
    );
    expect(row).toMatchObject({ scheme: 'http', host: '169.254.169.254', sandbox: 'alpha' });
  });

  it('IPv6 loopback, unspecified, ULA, link-local, multicast', async () => {
    await expectConnectRefused(a, ['[::1]:443', '[::]:443', '[fd00::1]:443', '[fc00::1]:443', '[fe80::1]:443', '[ff02::1]:443', '[fd00:ec2::254]:443']);
  });

  it('IPv4-mapped, -compatible, NAT64 and 6to4 forms of private IPv4', async () => {
    await expectConnectRefused(a, [
      '[::ffff:127.0.0.1]:443',
      '[::ffff:7f00:1]:443',
      '[0:0:0:0:0:ffff:7f00:0001]:443',
      '[::ffff:169.254.169.254]:443',
      '[::ffff:a9fe:a9fe]:443',
      '[::127.0.0.1]:443',
      '[64:ff9b::a9fe:a9fe]:443',
      '[2002:a9fe:a9fe::1]:443',
      '[::ffff:10.0.0.5]:443',
    ]);
  });

  it('other loopback spellings on the one allowed upstream port are not the allowed address', async () => {
    // `--allow-dest 127.0.0.1:PORT` may let the mapped form of that exact address through; any
    // other mapped loopback address on that port must still be refused.
    await expectConnectRefused(a, [`[::ffff:127.0.0.2]:${p.port}`, `[::1]:${p.port}`]);
  });

  it('decimal, octal, hex and short IPv4 spellings are not addresses: 400', async () => {
    const spellings = ['2130706433', '017700000001', '0177.0.0.1', '0x7f.0.0.1', '0x7f000001', '127.1', '127.0.1', '2852039166', '0251.0376.0251.0376', '0xa9.0xfe.0xa9.0xfe', '0', '127.000.000.001', '1.2.3.4.'];
    await expectConnectRefused(a, spellings.map((s) => `${s}:443`), [[400, 'GW_BAD_TARGET']]);
  });

  it('0.0.0.0 (this host) is refused', async () => {
    await expectConnectRefused(a, ['0.0.0.0:443', `0.0.0.0:${p.port}`]);
  });

  it('odd spellings in an absolute plain-HTTP URL: 400', async () => {
    for (const url of ['http://2852039166/latest/meta-data/', 'http://0xa9fea9fe/', 'http://0251.0376.0251.0376/', 'http://[::ffff:a9fe:a9fe]/', 'http://169.254.169.254.nip.io.%2e/']) {
      await expectRefusedAny(
        a,
        async () => {
          const w = await dial(a.gw);
          w.write(`GET ${url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${a.auth('alpha')}\r\n\r\n`);
          const res = await w.response();
          w.socket.destroy();
          return res;
        },
        [
          [400, 'GW_BAD_TARGET'],
          [403, 'GW_PRIVATE_ADDRESS'],
        ],
      );
    }
  });

  it('an IPv6 zone id in CONNECT: 400', async () => {
    await expectConnectRefused(a, ['[fe80::1%25lo]:443', '[fe80::1%lo]:443'], [[400, 'GW_BAD_TARGET'], [400, 'GW_BAD_REQUEST']]);
  });
});

describe('names that resolve to refused addresses', () => {
  for (const [name, ip] of Object.entries(PRIVATE_NAMES)) {
    it(`${name} → ${ip}`, async () => {
      await expectConnectRefused(a, [`${name}:443`]);
      expect(a.rows().at(-1)?.host).toBe(name);
    });
  }

  it('a private name over the plain-HTTP proxy: refused before connecting', async () => {
    await expectRefusedAny(
      a,
      async () => {
        const w = await dial(a.gw);
        w.write(httpReq('GET', 'http://meta.standin.test/latest/meta-data/', 'meta.standin.test', [['Proxy-Authorization', a.auth('alpha')]]));
        const res = await w.response();
        w.socket.destroy();
        return res;
      },
      PRIVATE,
    );
  });

  it('a name pinned to loopback on a port other than the allowed one (ssh, smtp)', async () => {
    await expectConnectRefused(a, ['api.standin.test:22', 'api.standin.test:25', 'api.standin.test:443'], [
      [403, 'GW_PRIVATE_ADDRESS'],
      [403, 'GW_PORT_DENIED'],
    ]);
  });
});

describe('ports', () => {
  it('non-HTTPS ports of a public address are refused at CONNECT (never dialled)', async () => {
    await expectConnectRefused(a, ['93.184.215.14:22', '93.184.215.14:25', '93.184.215.14:6379', '[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:22'], [[403, 'GW_PORT_DENIED']]);
  });
});

describe("the gateway's own port", () => {
  it('CONNECT 127.0.0.1:<gateway port> and a name pinned to it (default allow-dest)', async () => {
    await expectConnectRefused(a, [`127.0.0.1:${a.gw}`, `api.standin.test:${a.gw}`, `[::ffff:127.0.0.1]:${a.gw}`], [
      [403, 'GW_SELF_TARGET'],
      [403, 'GW_PRIVATE_ADDRESS'],
      [403, 'GW_PORT_DENIED'],
    ]);
  });

  it('with --allow-dest 127.0.0.1 (all ports): the upstream is reachable (control)', async () => {
    const res = await connectAnswer(open, `127.0.0.1:${open.upstream.port}`);
    expect(res.status).toBe(200);
  });

  it('with --allow-dest 127.0.0.1 (all ports): CONNECT to the gateway itself is still refused as self', async () => {
    await expectConnectRefused(open, [`127.0.0.1:${open.gw}`, `api.standin.test:${open.gw}`, `[::ffff:127.0.0.1]:${open.gw}`], [[403, 'GW_SELF_TARGET']]);
  });

  it('with --allow-dest 127.0.0.1: localhost and 0.0.0.0 at the gateway port are refused', async () => {
    await expectConnectRefused(open, [`localhost:${open.gw}`, `0.0.0.0:${open.gw}`], [
      [403, 'GW_SELF_TARGET'],
      [403, 'GW_PRIVATE_ADDRESS'],
    ]);
  });

  it('with --allow-dest 127.0.0.1: plain HTTP to the gateway itself (a request loop) is refused', async () => {
    await expectRefusedAny(
      open,
      async () => {
        const w = await dial(open.gw);
        w.write(httpReq('GET', `http://127.0.0.1:${open.gw}/ca-key.pem`, `127.0.0.1:${open.gw}`, [['Proxy-Authorization', open.auth('alpha')]]));
        const res = await w.response();
        w.socket.destroy();
        return res;
      },
      [[403, 'GW_SELF_TARGET']],
    );
  });
});
