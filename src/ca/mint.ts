import { KeyObject, sign, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
// @peculiar/x509 registers its providers through tsyringe, which needs the Reflect metadata API
// loaded first (ES module imports evaluate in order).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn from '@peculiar/asn1-x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { GatewayError } from '../errors.js';

/**
 * Leaf minting for the CA. One EC P-256 key pair serves every leaf of a CA instance (created on
 * first use), so minting a leaf for a new host costs one ECDSA signature instead of a key
 * generation. The key never leaves the process; the leaves differ only in name, serial and dates.
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

export interface MintedLeaf {
  certPem: string;
  keyPem: string;
  /** The certificate's notAfter, epoch ms. */
  notAfter: number;
}

export interface CaSigner {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
  /** The CA's Subject Key Identifier (hex), copied into every leaf's Authority Key Identifier. */
  keyId: string;
}

interface LeafKey {
  keyPem: string;
  /** The leaf public key, parsed once: every leaf of this CA carries the same one. */
  spki: asn.SubjectPublicKeyInfo;
  /** The extensions every leaf carries whatever its name, parsed once. */
  fixedExtensions: asn.Extension[];
}

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const ID_AT_COMMON_NAME = '2.5.4.3';

/**
 * Mints leaves with @peculiar/asn1-x509's certificate structures directly rather than through
 * @peculiar/x509's generator: the generator re-parses every constant part (issuer, public key,
 * each extension) on every call and parses the certificate it made back into an object, which
 * made a mint about 5 ms of CPU, on the first request to every new host. Here the constant parts
 * are parsed once per CA instance, a mint serialises the TBS once and signs it natively (DER
 * ECDSA-Sig-Value straight from node:crypto), and the result is only base64-encoded: about 1 ms.
 */
export function createLeafMinter(ca: CaSigner): (host: string, now?: number) => Promise<MintedLeaf> {
  // Per-instance, single-flight: concurrent first mints share one key generation; a failure is
  // forgotten so the next mint tries again.
  let leafKey: Promise<LeafKey> | undefined;
  const getLeafKey = (): Promise<LeafKey> => {
    leafKey ??= generateLeafKey(ca.keyId).catch((e: unknown) => {
      leafKey = undefined;
      throw e;
    });
    return leafKey;
  };
  const issuer = AsnConvert.parse(ca.cert.subjectName.toArrayBuffer(), asn.Name);
  const signer = KeyObject.from(ca.key);
  const algorithm = new asn.AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });

  return async (host: string, now: number = Date.now()) => {
    const ipFamily = isIP(host);
    if (ipFamily === 0 && !NAME.test(host)) throw new GatewayError('GW_BAD_TARGET', 'cannot mint a leaf for this host');
    const { keyPem, spki, fixedExtensions } = await getLeafKey();
    const withCn = host.length <= MAX_CN;
    // X.509 times carry whole seconds.
    const notBefore = new Date(Math.floor((now - HOUR) / 1000) * 1000);
    const notAfter = new Date(Math.floor((now + LEAF_DAYS * 24 * HOUR) / 1000) * 1000);
    const san = new asn.SubjectAlternativeName([new asn.GeneralName(ipFamily === 0 ? { dNSName: host } : { iPAddress: host })]);
    const tbsCertificate = new asn.TBSCertificate({
      version: asn.Version.v3,
      serialNumber: toArrayBuffer(Buffer.from(randomSerial(), 'hex')),
      signature: algorithm,
      issuer,
      validity: new asn.Validity({ notBefore, notAfter }),
      subject: withCn ? commonName(host) : new asn.Name([]),
      subjectPublicKeyInfo: spki,
      extensions: new asn.Extensions([
        ...fixedExtensions,
        // An empty subject requires a critical SAN (RFC 5280 4.2.1.6).
        new asn.Extension({ extnID: asn.id_ce_subjectAltName, critical: !withCn, extnValue: new OctetString(AsnConvert.serialize(san)) }),
      ]),
    });
    const tbs = Buffer.from(AsnConvert.serialize(tbsCertificate));
    const signatureValue = sign('sha256', tbs, { key: signer, dsaEncoding: 'der' });
    const der = AsnConvert.serialize(new asn.Certificate({ tbsCertificate, signatureAlgorithm: algorithm, signatureValue: toArrayBuffer(signatureValue) }));
    return { certPem: x509.PemConverter.encode(der, 'CERTIFICATE'), keyPem, notAfter: notAfter.getTime() };
  };
}

function commonName(host: string): asn.Name {
  const cn = new asn.AttributeTypeAndValue({ type: ID_AT_COMMON_NAME, value: new asn.AttributeValue({ utf8String: host }) });
  return new asn.Name([new asn.RelativeDistinguishedName([cn])]);
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  const out = new ArrayBuffer(b.length);
  new Uint8Array(out).set(b);
  return out;
}

async function generateLeafKey(caKeyId: string): Promise<LeafKey> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const spki = AsnConvert.parse(await webcrypto.subtle.exportKey('spki', keys.publicKey), asn.SubjectPublicKeyInfo);
  const fixed = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
    new x509.AuthorityKeyIdentifierExtension(caKeyId),
  ];
  return {
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    spki,
    fixedExtensions: fixed.map((e) => AsnConvert.parse(e.rawData, asn.Extension)),
  };
}
