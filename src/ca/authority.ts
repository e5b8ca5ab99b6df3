import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { webcrypto } from 'node:crypto';
// @peculiar/x509 registers its providers through tsyringe, which needs the Reflect metadata API
// loaded first (ES module imports evaluate in order).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { RuntimeError } from '../errors.js';
import { createLeafMinter, EC_P256, ECDSA_SHA256, randomSerial } from './mint.js';
import type { CertificateAuthority } from './types.js';

/**
 * The gateway's CA: EC P-256, created once by `standin init` and loaded by `serve`. The key is
 * PKCS#8 PEM, 0600, in a 0700 directory. Its certificate is what sandboxes trust.
 */

const CA_CERT = 'ca.pem';
const CA_KEY = 'ca-key.pem';
const HOUR = 3_600_000;
const CA_YEARS = 10;

export async function loadOrCreateCa(dir: string): Promise<{ ca: CertificateAuthority; created: boolean }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory's mode alone, and umask can loosen nothing but may vary.
  await chmod(dir, 0o700);
  const files = await readPair(dir);
  if (files) return { ca: await fromPem(files.certPem, files.keyPem), created: false };
  const { certPem, keyPem } = await generateCa();
  try {
    // 'wx' refuses to overwrite: a CA that sandboxes already trust is never silently replaced.
    await writeFile(join(dir, CA_KEY), keyPem, { mode: 0o600, flag: 'wx' });
    await writeFile(join(dir, CA_CERT), certPem, { mode: 0o644, flag: 'wx' });
    await chmod(join(dir, CA_CERT), 0o644);
  } catch (e) {
    if (errorCode(e) === 'EEXIST') throw new RuntimeError(`CA in ${dir} was created concurrently by another process; run the command again`);
    throw new RuntimeError(`cannot write the CA to ${dir} (${errorCode(e) ?? 'write failed'})`);
  }
  return { ca: await fromPem(certPem, keyPem), created: true };
}

/** Loads an existing CA; never creates one (that is `standin init`'s job). */
/** A CA from its PEM texts (the fleet's, kept in the database), checked like the files are. */
export async function caFromPem(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  return fromPem(certPem, keyPem);
}

/** A new CA as PEM texts, written nowhere (the fleet stores it in the database). */
export async function newCaPem(): Promise<{ certPem: string; keyPem: string }> {
  return generateCa();
}

/** The home's CA files, if both are there (a home that becomes a fleet's first gateway). */
export async function readCaFiles(dir: string): Promise<{ certPem: string; keyPem: string } | undefined> {
  return readPair(dir);
}

export async function loadCa(dir: string): Promise<CertificateAuthority> {
  const files = await readPair(dir);
  if (!files) throw new RuntimeError(`no CA in ${dir}: run \`standin init\` first`);
  return fromPem(files.certPem, files.keyPem);
}

/** System roots plus the standin CA: for SSL_CERT_FILE and friends, so untouched TLS still works. */
export function caBundlePem(caPem: string): string {
  return `${[...rootCertificates, caPem.trim()].join('\n')}\n`;
}

async function readPair(dir: string): Promise<{ certPem: string; keyPem: string } | undefined> {
  const [certPem, keyPem] = await Promise.all([readOptional(join(dir, CA_CERT)), readOptional(join(dir, CA_KEY))]);
  if (certPem !== undefined && keyPem !== undefined) return { certPem, keyPem };
  if (certPem === undefined && keyPem === undefined) return undefined;
  // Half a CA is never completed by generating a new half: that would orphan what sandboxes trust.
  throw new RuntimeError(`CA in ${dir} is incomplete (${certPem === undefined ? CA_CERT : CA_KEY} missing); restore it or remove the directory`);
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return undefined;
    throw new RuntimeError(`cannot read ${file} (${errorCode(e) ?? 'read failed'})`);
  }
}

async function generateCa(): Promise<{ certPem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto);
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=standin CA (${dnSafe(hostname())}), O=standin`,
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + CA_YEARS * 365.25 * 24 * HOUR),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ski,
      // Self-signed roots may omit AKI, but strict verifiers are happier with it present.
      new x509.AuthorityKeyIdentifierExtension(ski.keyId),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

async function fromPem(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  x509.cryptoProvider.set(webcrypto);
  let cert: x509.X509Certificate;
  let key: webcrypto.CryptoKey;
  try {
    cert = new x509.X509Certificate(certPem);
    const der = x509.PemConverter.decode(keyPem)[0];
    if (!der) throw new Error('no PEM block');
    key = (await webcrypto.subtle.importKey('pkcs8', der, EC_P256, false, ['sign'])) as webcrypto.CryptoKey;
  } catch {
    throw new RuntimeError('the CA files are not an EC P-256 certificate and PKCS#8 key');
  }
  await assertKeyMatches(cert, key);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) throw new RuntimeError('the CA certificate has no Subject Key Identifier');
  return { certPem: cert.toString('pem'), mintLeaf: createLeafMinter({ cert, key, keyId: ski.keyId }) };
}

// A key that does not belong to the certificate would mint leaves no client accepts: fail at load.
async function assertKeyMatches(cert: x509.X509Certificate, key: webcrypto.CryptoKey): Promise<void> {
  const probe = webcrypto.getRandomValues(new Uint8Array(32));
  const signature = await webcrypto.subtle.sign(ECDSA_SHA256, key, probe);
  const publicKey = await cert.publicKey.export(EC_P256, ['verify'], webcrypto);
  if (!(await webcrypto.subtle.verify(ECDSA_SHA256, publicKey, signature, probe))) {
    throw new RuntimeError('the CA key does not match the CA certificate');
  }
}

// The host name goes into a DN string: keep only characters that need no escaping there.
function dnSafe(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 40) || 'host';
}

function errorCode(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null && 'code' in e ? (e as { code: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
