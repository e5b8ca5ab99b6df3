import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateCa } from '../../src/ca/authority.js';
import { createLeafContextCache } from '../../src/ca/leaf-cache.js';

/**
 * Real TLS clients with strict verification must accept a minted leaf: curl (OpenSSL) and
 * Python's ssl with VERIFY_X509_STRICT, which rejects missing AKI, non-critical basic
 * constraints on the CA, and other shortcuts that Node alone would let through.
 */

const run = promisify(execFile);
const HOST = 'leaf.standin.test';

let root: string;
let caFile: string;
let server: Server;
let port: number;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'standin-leaf-'));
  const { ca } = await loadOrCreateCa(join(root, 'ca'));
  caFile = join(root, 'ca', 'ca.pem');
  const leaves = createLeafContextCache(ca, { max: 4 });
  const context = await leaves.get(HOST);
  server = createServer({ SNICallback: (_name, cb) => cb(null, context) }, (_req, res) => res.end('leaf ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(root, { recursive: true, force: true });
});

async function has(cmd: string): Promise<boolean> {
  try {
    await run(cmd, ['--version']);
    return true;
  } catch {
    return false;
  }
}

const PYTHON = `
import http.client, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
class Conn(http.client.HTTPSConnection):
    def connect(self):
        import socket
        sock = socket.create_connection(('127.0.0.1', self.port))
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
conn = Conn(host, port, context=ctx, timeout=10)
conn.request('GET', '/')
print(conn.getresponse().read().decode())
`;

describe('minted leaves with strict clients', () => {
  it('curl --cacert accepts the leaf for its name', async (ctx) => {
    if (!(await has('curl'))) ctx.skip();
    const { stdout } = await run('curl', ['-sS', '--fail', '--resolve', `${HOST}:${port}:127.0.0.1`, '--cacert', caFile, `https://${HOST}:${port}/`]);
    expect(stdout).toBe('leaf ok');
  });

  it('curl refuses the leaf for another name', async (ctx) => {
    if (!(await has('curl'))) ctx.skip();
    const other = 'other.standin.test';
    await expect(run('curl', ['-sS', '--fail', '--resolve', `${other}:${port}:127.0.0.1`, '--cacert', caFile, `https://${other}:${port}/`])).rejects.toThrow();
  });

  it('python ssl with VERIFY_X509_STRICT accepts the leaf', async (ctx) => {
    if (!(await has('python3'))) ctx.skip();
    const { stdout } = await run('python3', ['-c', PYTHON, HOST, String(port), caFile]);
    expect(stdout.trim()).toBe('leaf ok');
  });

  it('python ssl refuses the leaf for another name', async (ctx) => {
    if (!(await has('python3'))) ctx.skip();
    await expect(run('python3', ['-c', PYTHON, 'other.standin.test', String(port), caFile])).rejects.toThrow(/CERTIFICATE_VERIFY_FAILED|mismatch/);
  });
});
