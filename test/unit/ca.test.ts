import 'reflect-metadata';
import { mkdtemp, readFile, rm, stat, chmod, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, rootCertificates, type SecureContext } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caBundlePem, loadCa, loadOrCreateCa } from '../../src/ca/authority.js';
import { createLeafContextCache } from '../../src/ca/leaf-cache.js';
import type { CertificateAuthority } from '../../src/ca/types.js';
import { RuntimeError } from '../../src/errors.js';

x509.cryptoProvider.set(webcrypto);

let root: string;
let dir: string;
let ca: CertificateAuthority;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'standin-ca-'));
  dir = join(root, 'ca');
  const result = await loadOrCreateCa(dir);
  expect(result.created).toBe(true);
  ca = result.ca;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

describe('CA files', () => {
  it('writes the key 0600, the cert 0644, the directory 0700', async () => {
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'ca-key.pem'))).toBe(0o600);
    expect(await mode(join(dir, 'ca.pem'))).toBe(0o644);
    expect(await readFile(join(dir, 'ca-key.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('is idempotent: a second call loads the same CA and tightens the directory', async () => {
    await chmod(dir, 0o755);
    const again = await loadOrCreateCa(dir);
    expect(again.created).toBe(false);
    expect(again.ca.certPem).toBe(ca.certPem);
    expect(await mode(dir)).toBe(0o700);
    expect((await loadCa(dir)).certPem).toBe(ca.certPem);
  });

  it('loadCa on an empty directory says to run standin init', async () => {
    await expect(loadCa(join(root, 'nothing'))).rejects.toThrow(RuntimeError);
    await expect(loadCa(join(root, 'nothing'))).rejects.toThrow(/standin init/);
  });

  it('refuses half a CA and a key that does not match the certificate', async () => {
    const half = join(root, 'half');
    await mkdir(half);
    await writeFile(join(half, 'ca.pem'), ca.certPem);
    await expect(loadOrCreateCa(half)).rejects.toThrow(/incomplete/);
    const other = join(root, 'other');
    await loadOrCreateCa(other);
    await writeFile(join(half, 'ca-key.pem'), await readFile(join(other, 'ca-key.pem')));
    await expect(loadCa(half)).rejects.toThrow(/does not match/);
  });

  it('has the CA extensions', async () => {
    const cert = new x509.X509Certificate(ca.certPem);
    expect(cert.subject).toMatch(/^CN=standin CA \(.+\), O=standin$/);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    expect(bc?.ca).toBe(true);
    expect(bc?.critical).toBe(true);
    expect(bc?.pathLength).toBe(0);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    expect(ku?.critical).toBe(true);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(cert.publicKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    expect(cert.notAfter.getTime() - Date.now()).toBeGreaterThan(9.9 * 365 * 86_400_000);
    expect(await cert.verify({ signatureOnly: true })).toBe(true);
  });

  it('builds a bundle of the system roots plus the CA', () => {
    const bundle = caBundlePem(ca.certPem);
    expect(bundle.endsWith(`${ca.certPem.trim()}\n`)).toBe(true);
    expect(bundle.match(/BEGIN CERTIFICATE/g)?.length).toBe(rootCertificates.length + 1);
  });
});

describe('leaves', () => {
  it('mints a leaf with SAN, AKI, SKI, EKU, key usage and <= 45 days validity', async () => {
    const caCert = new x509.X509Certificate(ca.certPem);
    const minted = await ca.mintLeaf('api.example.test');
    const leaf = new x509.X509Certificate(minted.certPem);
    expect(leaf.subject).toBe('CN=api.example.test');
    // What the leaf cache serves it until: the certificate's own notAfter.
    expect(minted.notAfter).toBe(leaf.notAfter.getTime());
    expect(leaf.issuer).toBe(caCert.subject);
    expect(await leaf.verify({ publicKey: caCert.publicKey, signatureOnly: true })).toBe(true);
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.toJSON()).toEqual([{ type: 'dns', value: 'api.example.test' }]);
    const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension);
    expect(aki?.keyId).toBe(caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    expect(leaf.getExtension(x509.SubjectKeyIdentifierExtension)).toBeTruthy();
    expect(leaf.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    const ku = leaf.getExtension(x509.KeyUsagesExtension);
    expect(ku?.critical).toBe(true);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(leaf.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    const days = (leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 86_400_000;
    expect(days).toBeLessThanOrEqual(45);
    expect(leaf.notBefore.getTime()).toBeLessThan(Date.now());
    expect(leaf.serialNumber).toMatch(/^[4-7][0-9a-f]{31}$/);
  });

  it('uses an iPAddress SAN for IP literals and leaves CN out of long names', async () => {
    const v4 = new x509.X509Certificate((await ca.mintLeaf('127.0.0.1')).certPem);
    expect(v4.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([{ type: 'ip', value: '127.0.0.1' }]);
    const v6 = new x509.X509Certificate((await ca.mintLeaf('2001:db8::1')).certPem);
    expect(v6.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([{ type: 'ip', value: '2001:db8::1' }]);
    const long = `${'a'.repeat(60)}.example.test`;
    const leaf = new x509.X509Certificate((await ca.mintLeaf(long)).certPem);
    expect(leaf.subject).toBe('');
    expect(leaf.getExtension(x509.SubjectAlternativeNameExtension)?.critical).toBe(true);
  });

  it('reuses one leaf key and gives every leaf a fresh serial', async () => {
    const [a, b] = await Promise.all([ca.mintLeaf('a.example.test'), ca.mintLeaf('b.example.test')]);
    expect(a.keyPem).toBe(b.keyPem);
    expect(new x509.X509Certificate(a.certPem).serialNumber).not.toBe(new x509.X509Certificate(b.certPem).serialNumber);
  });

  it('refuses hosts outside the target grammar', async () => {
    await expect(ca.mintLeaf('evil/../x')).rejects.toThrow();
    await expect(ca.mintLeaf('CN=x, O=y')).rejects.toThrow();
  });
});

describe('leaf context cache', () => {
  function countingCa(fail = false): { ca: CertificateAuthority; mints: () => number } {
    let n = 0;
    return {
      mints: () => n,
      ca: {
        certPem: ca.certPem,
        mintLeaf: async (host) => {
          n += 1;
          if (fail) throw new Error('boom');
          return ca.mintLeaf(host);
        },
      },
    };
  }

  it('single-flight: 10 concurrent gets mint once and share the context', async () => {
    const counting = countingCa();
    const cache = createLeafContextCache(counting.ca, { max: 10 });
    const contexts = await Promise.all(Array.from({ length: 10 }, () => cache.get('api.example.test')));
    expect(counting.mints()).toBe(1);
    expect(new Set(contexts).size).toBe(1);
  });

  it('does not cache a failed mint', async () => {
    const failing = countingCa(true);
    const cache = createLeafContextCache(failing.ca, { max: 10 });
    await expect(cache.get('x.example.test')).rejects.toThrow('boom');
    expect(cache.size()).toBe(0);
    await expect(cache.get('x.example.test')).rejects.toThrow('boom');
    expect(failing.mints()).toBe(2);
  });

  it('evicts the least recently used host beyond max', async () => {
    const counting = countingCa();
    const cache = createLeafContextCache(counting.ca, { max: 2 });
    await cache.get('a.test');
    await cache.get('b.test');
    await cache.get('a.test'); // a is now the most recent
    await cache.get('c.test'); // evicts b
    expect(cache.size()).toBe(2);
    expect(counting.mints()).toBe(3);
    await cache.get('a.test');
    expect(counting.mints()).toBe(3);
    await cache.get('b.test');
    expect(counting.mints()).toBe(4);
  });

  it('re-mints a leaf before it expires and never serves an expired one (clock moved)', async () => {
    const DAY = 24 * 3_600_000;
    const t0 = Date.parse('2027-01-01T00:00:00Z');
    let now = t0;
    const counting = countingCa();
    const cache = createLeafContextCache({ certPem: ca.certPem, mintLeaf: (host, at) => { counting.ca.mintLeaf(host); return ca.mintLeaf(host, at); } }, { max: 10, clock: () => now });
    const first = await cache.get('busy.example.test');
    const firstExpiry = cache.expiryOf('busy.example.test') ?? 0;
    expect(firstExpiry).toBeGreaterThan(t0 + 29 * DAY);
    expect(firstExpiry).toBeLessThanOrEqual(t0 + 30 * DAY);
    now = t0 + 10 * DAY;
    expect(await cache.get('busy.example.test')).toBe(first);
    expect(counting.mints()).toBe(1);
    // Two thirds through its life: the old leaf is still served while a new one is minted, once.
    now = t0 + 21 * DAY;
    const [a, b] = await Promise.all([cache.get('busy.example.test'), cache.get('busy.example.test')]);
    expect(a).toBe(first);
    expect(b).toBe(first);
    for (let i = 0; i < 500 && cache.expiryOf('busy.example.test') === firstExpiry; i++) await new Promise((r) => setTimeout(r, 10));
    expect(counting.mints()).toBe(2);
    const renewed = await cache.get('busy.example.test');
    expect(renewed).not.toBe(first);
    expect(cache.expiryOf('busy.example.test')).toBeGreaterThan(t0 + 50 * DAY);
    // Long idle, then past every notAfter: the handshake waits for a fresh leaf.
    now = t0 + 200 * DAY;
    const fresh = await cache.get('busy.example.test');
    expect(fresh).not.toBe(renewed);
    expect(cache.expiryOf('busy.example.test')).toBeGreaterThan(now + 29 * DAY);
    expect(counting.mints()).toBe(3);
  });

  it('the minted leaf is valid at the time it was minted for, from an hour before', async () => {
    const at = Date.parse('2030-06-01T12:00:00Z');
    const leaf = new x509.X509Certificate((await ca.mintLeaf('later.example.test', at)).certPem);
    expect(leaf.notBefore.getTime()).toBe(at - 3_600_000);
    expect(leaf.notAfter.getTime()).toBe(at + 30 * 24 * 3_600_000);
  });

  it('serves a leaf that strict Node TLS verification accepts for its name only', async () => {
    const cache = createLeafContextCache(ca, { max: 10 });
    const context: SecureContext = await cache.get('api.example.test');
    const server = createServer({ SNICallback: (_name, cb) => cb(null, context) }, (s) => s.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const attempt = (servername: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ca: ca.certPem, servername }, () => {
          s.once('data', (d: Buffer) => resolve(d.toString()));
        });
        s.on('error', reject);
      });
    try {
      expect(await attempt('api.example.test')).toBe('ok');
      await expect(attempt('other.example.test')).rejects.toThrow(/altnames|does not match/i);
    } finally {
      server.close();
    }
  });
});
