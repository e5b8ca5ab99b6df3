#!/usr/bin/env node
/**
 * Regenerates the TEST-ONLY certificates in certs/: a CA that signs the local HTTPS upstreams
 * used by tests and benchmarks, and one upstream leaf for *.standin.test, standin.test,
 * localhost, 127.0.0.1 and ::1. The product never trusts these; tests pass the CA to the gateway
 * with --upstream-ca. Usage: node scripts/gen-test-certs.mjs [outdir]   (default: certs/)
 */
import { webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// @peculiar/x509 2.x needs the Reflect metadata API loaded before it.
import 'reflect-metadata';
const x509 = await import('@peculiar/x509');
x509.cryptoProvider.set(webcrypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN = { name: 'ECDSA', hash: 'SHA-256' };
const HOUR = 3_600_000;
const TEN_YEARS = 10 * 365 * 24 * HOUR;

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, '..', 'certs'));

function serial() {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

async function keyPem(key) {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

const now = Date.now();
const validity = { notBefore: new Date(now - HOUR), notAfter: new Date(now + TEN_YEARS) };

const caKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
const caSki = await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey);
const ca = await x509.X509CertificateGenerator.createSelfSigned({
  serialNumber: serial(),
  name: 'CN=standin TEST upstream CA - never trust, O=standin tests',
  ...validity,
  keys: caKeys,
  signingAlgorithm: SIGN,
  extensions: [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    caSki,
    new x509.AuthorityKeyIdentifierExtension(caSki.keyId),
  ],
});

const leafKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
const leaf = await x509.X509CertificateGenerator.create({
  serialNumber: serial(),
  subject: 'CN=standin.test',
  issuer: ca.subject,
  ...validity,
  publicKey: leafKeys.publicKey,
  signingKey: caKeys.privateKey,
  signingAlgorithm: SIGN,
  extensions: [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([
      { type: 'dns', value: '*.standin.test' },
      { type: 'dns', value: 'standin.test' },
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '0:0:0:0:0:0:0:1' },
    ]),
    await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
    new x509.AuthorityKeyIdentifierExtension(caSki.keyId),
  ],
});

await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, 'test-ca.pem'), ca.toString('pem') + '\n');
await writeFile(join(outDir, 'test-ca-key.pem'), (await keyPem(caKeys.privateKey)) + '\n', { mode: 0o600 });
await writeFile(join(outDir, 'upstream.pem'), leaf.toString('pem') + '\n');
await writeFile(join(outDir, 'upstream-key.pem'), (await keyPem(leafKeys.privateKey)) + '\n', { mode: 0o600 });
process.stdout.write(`wrote test-only certificates to ${outDir}\n`);
