import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
// @peculiar/x509 registers its providers through tsyringe, which needs the Reflect metadata API
// loaded first (ES module imports evaluate in order).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { GatewayError } from '../errors.js';

/**
 * Leaf minting for the CA. One EC P-256 key pair serves every leaf of a CA instance (created on
 * first use), so minting a leaf for a new host costs one ECDSA signature, a few milliseconds,
 * instead of a key generation. The key never leaves the process; the leaves differ only in name.
 */

export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

const HOUR = 3_600_000;
// Apple and Chrome cap leaf lifetimes (and are lowering the cap toward 47 days); 30 stays under.
const LEAF_DAYS = 30;
const MAX_CN = 64; // ub-common-name: a longer CN makes the certificate invalid, so leave it out
// What mintLeaf accepts: canonical targets only (lower-case names, IP literals without brackets).
const NAME = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;

/** 16 random bytes, top bit cleared (a positive INTEGER) and never a leading zero byte. */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

export interface CaSigner {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
  /** The CA's Subject Key Identifier (hex), copied into every leaf's Authority Key Identifier. */
  keyId: string;
}

interface LeafKey {
  keys: webcrypto.CryptoKeyPair;
  keyPem: string;
  ski: x509.SubjectKeyIdentifierExtension;
}

export function createLeafMinter(ca: CaSigner): (host: string, now?: number) => Promise<{ certPem: string; keyPem: string }> {
  // Per-instance, single-flight: concurrent first mints share one key generation; a failure is
  // forgotten so the next mint tries again.
  let leafKey: Promise<LeafKey> | undefined;
  const getLeafKey = (): Promise<LeafKey> => {
    leafKey ??= generateLeafKey().catch((e: unknown) => {
      leafKey = undefined;
      throw e;
    });
    return leafKey;
  };

  return async (host: string, now: number = Date.now()) => {
    const ipFamily = isIP(host);
    if (ipFamily === 0 && !NAME.test(host)) throw new GatewayError('GW_BAD_TARGET', 'cannot mint a leaf for this host');
    const { keys, keyPem, ski } = await getLeafKey();
    const withCn = host.length <= MAX_CN;
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: withCn ? `CN=${host}` : [],
        issuer: ca.cert.subjectName.toString(),
        notBefore: new Date(now - HOUR),
        notAfter: new Date(now + LEAF_DAYS * 24 * HOUR),
        publicKey: keys.publicKey,
        signingKey: ca.key,
        signingAlgorithm: ECDSA_SHA256,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
          // An empty subject requires a critical SAN (RFC 5280 4.2.1.6).
          new x509.SubjectAlternativeNameExtension([{ type: ipFamily === 0 ? 'dns' : 'ip', value: host }], !withCn),
          ski,
          new x509.AuthorityKeyIdentifierExtension(ca.keyId),
        ],
      },
      webcrypto,
    );
    return { certPem: cert.toString('pem'), keyPem };
  };
}

async function generateLeafKey(): Promise<LeafKey> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto);
  return { keys, keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), ski };
}
