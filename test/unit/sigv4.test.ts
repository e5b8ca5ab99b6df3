import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { awsStandInPair, isAwsKeyId, secretEnvFor, SIGV4_TOKEN_PREFIX } from '../../src/model/aws-key.js';
import type { HeaderList } from '../../src/model/headers.js';
import { generateToken } from '../../src/model/token-format.js';
import { sandboxEnv } from '../../src/sandbox-env/env.js';
import { parseAwsValue } from '../../src/swap/sigv4-auth.js';
import { codeOf, run, sandbox, secret, type World } from './pipeline-kit.js';

// The client side is signed with @smithy/signature-v4 directly (as the JS SDK does); what leaves
// the gateway is checked by botocore (python), a signer independent of the code under test.
const CLIENTS = join(import.meta.dirname, '..', 'e2e', 'clients');
const REAL = { id: 'AKIAREALREALREAL7777', secret: 'REALsecretREALsecretREALsecretREALsecre' };
const token = generateToken(SIGV4_TOKEN_PREFIX);
const pair = awsStandInPair(token);
const s = secret('aws', { kind: 'sigv4' }, ['*.amazonaws.com']);
const world: World = { sandboxes: [sandbox()], tokens: new Map([[token, { token, sandboxId: 'sb1', env: 'AWS_ACCESS_KEY_ID', secret: s, version: 3 }]]), values: { [s.id]: `${REAL.id}:${REAL.secret}` }, now: Date.UTC(2026, 0, 2, 3, 4, 5) };
const target = { host: 'bucket.s3.amazonaws.com', port: 443, kind: 'name' as const };
const date = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

function clientSigner(creds: { accessKeyId: string; secretAccessKey: string }, service = 's3'): SignatureV4 {
  return new SignatureV4({ credentials: creds, region: 'us-east-1', service, sha256: Hash.bind(null, 'sha256'), uriEscapePath: service !== 's3' });
}

async function signedHeaders(path: string, query: Record<string, string>, creds = pair, extra: Record<string, string> = {}, method = 'GET'): Promise<HeaderList> {
  const req = new HttpRequest({ method, protocol: 'https:', hostname: target.host, path, query, headers: { host: target.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra } });
  const signed = await clientSigner(creds).sign(req, { signingDate: date });
  return Object.entries(signed.headers).filter(([n]) => n !== 'host');
}

function verifyWithBotocore(url: string): string {
  try {
    return execFileSync('python3', [join(CLIENTS, 'verify_presigned.py'), url, REAL.id, REAL.secret], { encoding: 'utf8' }).trim();
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? e).trim();
  }
}

describe('stand-in AWS pair', () => {
  it('is AWS-shaped, deterministic per token, and unrelated between tokens', () => {
    expect(isAwsKeyId(pair.accessKeyId)).toBe(true);
    expect(pair.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(awsStandInPair(token)).toEqual(pair);
    expect(awsStandInPair(generateToken(SIGV4_TOKEN_PREFIX)).accessKeyId).not.toBe(pair.accessKeyId);
    expect(secretEnvFor('AWS_ACCESS_KEY_ID')).toBe('AWS_SECRET_ACCESS_KEY');
    expect(secretEnvFor('PROD_AWS')).toBe('PROD_AWS_SECRET');
  });

  it('sandbox env exports the pair instead of the token', () => {
    const env = sandboxEnv({ sandbox: 'sb', proxyKey: 'k', bindings: [{ env: 'AWS_ACCESS_KEY_ID', token }, { env: 'OTHER', token: generateToken() }], proxy: '127.0.0.1:1', caBundle: '/ca' });
    expect(env.AWS_ACCESS_KEY_ID).toBe(pair.accessKeyId);
    expect(env.AWS_SECRET_ACCESS_KEY).toBe(pair.secretAccessKey);
    expect(JSON.stringify(env)).not.toContain(token);
    expect(env.AWS_CA_BUNDLE).toBe('/ca');
  });

  it('reads ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]', () => {
    expect(parseAwsValue(`${REAL.id}:${REAL.secret}`)).toEqual({ accessKeyId: REAL.id, secretAccessKey: REAL.secret });
    expect(parseAwsValue(`${REAL.id}:${REAL.secret}:FwoGZXIvYXdzEBYaDOSESSION`)?.sessionToken).toBe('FwoGZXIvYXdzEBYaDOSESSION');
    for (const bad of ['', 'nocolon', ':x', `${REAL.id}:short`, `lower:${REAL.secret}`]) expect(parseAwsValue(bad)).toBeUndefined();
  });
});

describe('sigv4 in the pipeline', () => {
  it('verifies a header signature with the stand-in pair and re-signs with the real one', async () => {
    const headers = await signedHeaders('/key.txt', { 'list-type': '2', prefix: '' });
    const out = await run(world, { path: '/key.txt?list-type=2&prefix=', target, headers });
    if (!out.ok) throw new Error(out.error.code);
    const auth = out.fwd.headers.find(([n]) => n === 'Authorization')?.[1] ?? '';
    expect(auth).toContain(`Credential=${REAL.id}/20260102/us-east-1/s3/aws4_request`);
    // The same request signed by the SDK's signer with the real pair, independently.
    const expected = await signedHeaders('/key.txt', { 'list-type': '2', prefix: '' }, { accessKeyId: REAL.id, secretAccessKey: REAL.secret });
    expect(auth).toBe(expected.find(([n]) => n === 'authorization')?.[1]);
    expect(out.ex.applied[0]).toMatchObject({ secretName: 'aws', placement: 'AWS SigV4 (re-signed with [secret])' });
    expect(out.fwd.reflections.some((r) => r.real === REAL.id && r.standIn === pair.accessKeyId)).toBe(true);
  });

  it('adds the real session token, signed', async () => {
    const w: World = { ...world, values: { [s.id]: `${REAL.id}:${REAL.secret}:FwoGZXIvYXdzEBYaDOSESSIONTOKEN` } };
    const out = await run(w, { path: '/k', target, headers: await signedHeaders('/k', {}) });
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.headers).toContainEqual(['X-Amz-Security-Token', 'FwoGZXIvYXdzEBYaDOSESSIONTOKEN']);
    expect(out.fwd.headers.find(([n]) => n === 'Authorization')?.[1]).toMatch(/SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
  });

  it('refuses a signature made without the stand-in secret, naming the secret', async () => {
    const forged = await signedHeaders('/k', {}, { accessKeyId: pair.accessKeyId, secretAccessKey: 'x'.repeat(40) });
    const out = await run(world, { path: '/k', target, headers: forged });
    expect(codeOf(out)).toBe('GW_SIGNATURE_INVALID');
    expect(out.ex.secrets).toEqual(['aws@3']);
    // A signed header changed after signing is a forgery too.
    const good = await signedHeaders('/k', {}, pair, { 'x-amz-meta-a': '1' });
    const tampered = good.map(([n, v]): [string, string] => (n === 'x-amz-meta-a' ? [n, '2'] : [n, v]));
    expect(codeOf(await run(world, { path: '/k', target, headers: tampered }))).toBe('GW_SIGNATURE_INVALID');
    expect(codeOf(await run(world, { path: '/other', target, headers: good }))).toBe('GW_SIGNATURE_INVALID');
  });

  it('a presigned URL: verified, re-signed in the query, valid for botocore with the real pair', async () => {
    const req = new HttpRequest({ method: 'GET', protocol: 'https:', hostname: target.host, path: '/dir/file%20name.txt', query: { 'response-content-type': 'text/plain' }, headers: { host: target.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const presigned = await clientSigner(pair).presign(req, { signingDate: date, expiresIn: 300, unhoistableHeaders: new Set(['x-amz-content-sha256']), unsignableHeaders: new Set(['x-amz-content-sha256']) });
    const q = Object.entries(presigned.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
    const out = await run(world, { path: `/dir/file%20name.txt?${q}`, target });
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.path).toContain(`X-Amz-Credential=${REAL.id}%2F20260102%2Fus-east-1%2Fs3%2Faws4_request`);
    expect(out.fwd.path).toContain('response-content-type=text%2Fplain');
    expect(verifyWithBotocore(`https://${target.host}${out.fwd.path}`)).toBe('valid');
    // The same URL with another signature is refused.
    const forged = q.replace(/X-Amz-Signature=[0-9a-f]{64}/, `X-Amz-Signature=${'0'.repeat(64)}`);
    expect(codeOf(await run(world, { path: `/dir/file%20name.txt?${forged}`, target }))).toBe('GW_SIGNATURE_INVALID');
  });

  it('a body without a payload hash (STS, DynamoDB) is read, bounded, and its hash signed', async () => {
    const sts = { host: 'sts.amazonaws.com', port: 443, kind: 'name' as const };
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const sign = async (creds: { accessKeyId: string; secretAccessKey: string }): Promise<HeaderList> => {
      const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 'sts', sha256: Hash.bind(null, 'sha256'), applyChecksum: false });
      const req = new HttpRequest({ method: 'POST', protocol: 'https:', hostname: sts.host, path: '/', headers: { host: sts.host, 'content-type': 'application/x-www-form-urlencoded' }, body });
      return Object.entries((await signer.sign(req, { signingDate: date })).headers).filter(([n]) => n !== 'host');
    };
    const out = await run(world, { method: 'POST', path: '/', target: sts, host: false, headers: [['Host', sts.host], ...(await sign(pair)), ['Content-Length', String(body.length)]], body: Buffer.from(body) });
    if (!out.ok) throw new Error(out.error.code);
    const expected = (await sign({ accessKeyId: REAL.id, secretAccessKey: REAL.secret })).find(([n]) => n === 'authorization')?.[1];
    expect(out.fwd.headers.find(([n]) => n === 'Authorization')?.[1]).toBe(expected);
    expect(out.fwd.body?.toString()).toBe(body);
    // The same signature over another body does not verify.
    const forged = await run(world, { method: 'POST', path: '/', target: sts, host: false, headers: [['Host', sts.host], ...(await sign(pair)), ['Content-Length', String(body.length)]], body: Buffer.from(body.replace('Get', 'Got')) });
    expect(codeOf(forged)).toBe('GW_SIGNATURE_INVALID');
  });

  it('SigV2 with a stand-in key id, or signed aws-chunked trailers, are refused, never forwarded as they are', async () => {
    expect(codeOf(await run(world, { path: `/k?AWSAccessKeyId=${pair.accessKeyId}&Signature=x&Expires=1`, target }))).toBe('GW_TOKEN_PLACEMENT');
    expect(codeOf(await run(world, { path: '/k', target, headers: [['Authorization', `AWS ${pair.accessKeyId}:c2lnbmF0dXJl`]] }))).toBe('GW_TOKEN_PLACEMENT');
    const chunked = await signedHeaders('/k', {}, pair, { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' });
    expect(codeOf(await run(world, { method: 'GET', path: '/k', target, headers: chunked }))).toBe('GW_BODY_UNSUPPORTED');
  });

  it('out of scope: token misuse; another key id: left alone', async () => {
    const headers = await signedHeaders('/k', {});
    const evil = await run(world, { path: '/k', target: { host: 'evil.example.com', port: 443, kind: 'name' }, host: false, headers: [['Host', 'evil.example.com'], ...headers] });
    expect(codeOf(evil)).toBe('GW_TOKEN_SCOPE');
    const own = await signedHeaders('/k', {}, { accessKeyId: 'AKIAOWNKEYOWNKEY2345', secretAccessKey: 'o'.repeat(40) });
    const out = await run(world, { path: '/k', target, headers: own });
    expect(out.ok && out.ex.decision).toBe('allowed');
  });
});

describe('sigv4 signed aws-chunked bodies', () => {
  const scope = (d: string): string => `${d}/us-east-1/s3/aws4_request`;

  async function chunked(creds: { accessKeyId: string; secretAccessKey: string }, seed: string, parts: Buffer[]): Promise<Buffer> {
    const signer = clientSigner(creds);
    const out: Buffer[] = [];
    let prior = seed;
    for (const data of [...parts, Buffer.alloc(0)]) {
      const sig = await signer.sign({ headers: new Uint8Array(0), payload: data }, { signingDate: date, priorSignature: prior });
      out.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${sig}\r\n`), data, Buffer.from('\r\n'));
      prior = sig;
    }
    return Buffer.concat(out);
  }

  async function streamed(fwd: { bodyTransform?: () => import('node:stream').Transform }, body: Buffer, pieces = 7): Promise<Buffer> {
    const t = fwd.bodyTransform?.();
    if (t === undefined) throw new Error('no transform');
    const out: Buffer[] = [];
    t.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise<void>((resolve, reject) => (t.on('end', resolve), t.on('error', reject)));
    // Written in odd pieces: chunk boundaries never line up with the writes.
    for (let i = 0; i < body.length; i += pieces) t.write(body.subarray(i, i + pieces));
    t.end();
    await ended;
    return Buffer.concat(out);
  }

  it('re-signs every chunk as it streams, chained from the re-signed seed; valid for an independent verifier', async () => {
    const parts = [Buffer.from('a'.repeat(100)), Buffer.from('b'.repeat(33))];
    const headers = await signedHeaders('/k', {}, pair, { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'x-amz-decoded-content-length': '133' }, 'PUT');
    const seed = /Signature=([0-9a-f]{64})/.exec(headers.find(([n]) => n === 'authorization')?.[1] ?? '')?.[1] ?? '';
    const body = await chunked(pair, seed, parts);
    const out = await run(world, { method: 'PUT', path: '/k', target, headers: [...headers, ['Content-Length', String(body.length)]], body });
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.body).toBeUndefined();
    const sent = await streamed(out.fwd, body);
    expect(sent.length).toBe(body.length);
    const realSeed = /Signature=([0-9a-f]{64})/.exec(out.fwd.headers.find(([n]) => n === 'Authorization')?.[1] ?? '')?.[1];
    const doc = JSON.stringify({ secret: REAL.secret, amzDate: '20260102T030405Z', scope: scope('20260102'), seed: realSeed, body: sent.toString('base64') });
    expect(execFileSync('python3', [join(CLIENTS, 'verify_chunks.py')], { input: doc, encoding: 'utf8' }).trim()).toBe('valid 133');
  });

  it('a chunk not signed with the stand-in chain stops the stream before it is passed on', async () => {
    const headers = await signedHeaders('/k', {}, pair, { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }, 'PUT');
    const seed = /Signature=([0-9a-f]{64})/.exec(headers.find(([n]) => n === 'authorization')?.[1] ?? '')?.[1] ?? '';
    const good = await chunked(pair, seed, [Buffer.from('first'), Buffer.from('second')]);
    const forged = Buffer.from(good.toString('latin1').replace('second', 'SECOND'), 'latin1');
    const out = await run(world, { method: 'PUT', path: '/k', target, headers, body: forged });
    if (!out.ok) throw new Error(out.error.code);
    const t = out.fwd.bodyTransform?.();
    const passed: string[] = [];
    t?.on('data', (c: Buffer) => passed.push(c.toString()));
    const failed = new Promise<unknown>((resolve) => t?.on('error', resolve));
    t?.end(forged);
    expect(await failed).toMatchObject({ code: 'GW_SIGNATURE_INVALID' });
    expect(passed.join('')).toContain('first');
    expect(passed.join('')).not.toContain('SECOND');
  });
});
