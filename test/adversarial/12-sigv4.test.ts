import { HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsStandInPair } from '../../src/model/aws-key.js';
import { SecretValue } from '../../src/secret-value.js';
import { startAdv, type Adv } from './setup.js';
import { expectProblem, httpReq, once, type HeaderPairs } from './wire.js';

// Class 12 — SigV4: the stand-in pair proves who signed. A signature made without the stand-in
// secret, one replayed onto another request, another sandbox's key id, and legacy SigV2 are never
// re-signed with the real pair; the real pair reaches neither the sandbox, pino nor the log.

const REAL = { id: 'AKIAADVREALKEY234567', secret: 'ADVrealSECRETadvREALsecretADVrealSECRET1' };
let a: Adv;
let api: string;
let mine: { accessKeyId: string; secretAccessKey: string };
let theirs: { accessKeyId: string; secretAccessKey: string };

beforeAll(async () => {
  a = await startAdv();
  api = `api.standin.test:${a.upstream.port}`;
  a.store.createSecret({ name: 'aws-s', scheme: { kind: 'sigv4' }, hosts: [api], value: new SecretValue(`${REAL.id}:${REAL.secret}`), actor: 'adv' });
  const m = a.store.createSandbox({ name: 'mallory', allowHosts: [], bindings: [{ env: 'AWS_ACCESS_KEY_ID', secretName: 'aws-s' }], actor: 'adv' });
  const v = a.store.createSandbox({ name: 'victim', allowHosts: [], bindings: [{ env: 'AWS_ACCESS_KEY_ID', secretName: 'aws-s' }], actor: 'adv' });
  mine = awsStandInPair(m.bindings[0]!.token);
  theirs = awsStandInPair(v.bindings[0]!.token);
});

afterAll(async () => {
  await a.close();
});

async function signed(creds: { accessKeyId: string; secretAccessKey: string }, path: string, extra: Record<string, string> = {}): Promise<HeaderPairs> {
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
  const req = new HttpRequest({ method: 'GET', protocol: 'https:', hostname: 'api.standin.test', path, headers: { host: api, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra } });
  const out = await signer.sign(req);
  return Object.entries(out.headers).filter(([n]) => n !== 'host') as HeaderPairs;
}

function expectClean(...texts: string[]): void {
  for (const text of [...texts, a.logs(), JSON.stringify(a.rows())]) {
    expect(text).not.toContain(REAL.secret);
    expect(text).not.toContain(REAL.id);
  }
}

async function refused(headers: HeaderPairs, path: string, status: number, code: string): Promise<void> {
  const before = a.upstream.received.length;
  const res = await once(a, api, 'mallory', httpReq('GET', path, api, headers));
  const row = await expectProblem(a, res, status, code);
  expect(a.upstream.received.length, 'requests that reached the upstream').toBe(before);
  expect(row.secrets).toEqual(['aws-s@1']);
  expectClean(res.all);
}

describe('SigV4 forgeries', () => {
  it('the stand-in key id with a signature made without the stand-in secret', async () => {
    await refused(await signed({ accessKeyId: mine.accessKeyId, secretAccessKey: 'guessed'.padEnd(40, 'x') }, '/bucket/key'), '/bucket/key', 403, 'GW_SIGNATURE_INVALID');
  });

  it('a genuine signature replayed onto another path or with a changed signed header', async () => {
    await refused(await signed(mine, '/bucket/key'), '/bucket/other', 403, 'GW_SIGNATURE_INVALID');
    const good = await signed(mine, '/bucket/key', { 'x-amz-meta-note': 'a' });
    await refused(good.map(([n, v]): [string, string] => (n === 'x-amz-meta-note' ? [n, 'b'] : [n, v])), '/bucket/key', 403, 'GW_SIGNATURE_INVALID');
  });

  it('a signed aws-chunked upload with a forged second chunk is cut off before that chunk leaves', async () => {
    const signer = new SignatureV4({ credentials: mine, region: 'us-east-1', service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
    const date = new Date();
    const parts = [Buffer.from('first-chunk'), Buffer.from('second-chunk')];
    const length = [...parts, Buffer.alloc(0)].reduce((n, p) => n + `${p.length.toString(16)};chunk-signature=${'0'.repeat(64)}\r\n`.length + p.length + 2, 0);
    const head = await signer.sign(new HttpRequest({ method: 'PUT', protocol: 'https:', hostname: 'api.standin.test', path: '/bucket/up', headers: { host: api, 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-length': String(length) } }), { signingDate: date });
    let prior = /Signature=([0-9a-f]{64})/.exec(String(head.headers['authorization']))?.[1] ?? '';
    let body = '';
    for (const data of [...parts, Buffer.alloc(0)]) {
      const sig = await signer.sign({ headers: new Uint8Array(0), payload: data }, { signingDate: date, priorSignature: prior });
      prior = sig;
      // The second chunk's bytes changed after signing: its signature no longer matches.
      body += `${data.length.toString(16)};chunk-signature=${sig}\r\n${data.toString() === 'second-chunk' ? 'SECOND-chunk' : data.toString()}\r\n`;
    }
    const headers = Object.entries(head.headers).filter(([n]) => n !== 'host' && n !== 'content-length') as HeaderPairs;
    const before = a.upstream.received.length;
    const res = await once(a, api, 'mallory', httpReq('PUT', '/bucket/up', api, [...headers, ['Content-Length', String(length)]], body));
    await expectProblem(a, res, 403, 'GW_SIGNATURE_INVALID');
    // The upstream never received a whole request (the upload was cut before the forged chunk).
    expect(a.upstream.received.length).toBe(before);
    expectClean(res.all);
  });

  it('legacy SigV2 with the stand-in key id is refused, not forwarded', async () => {
    await refused([['Authorization', `AWS ${mine.accessKeyId}:c2lnbmF0dXJlIGd1ZXNz`]], '/bucket/key', 403, 'GW_TOKEN_PLACEMENT');
  });

  it("another sandbox's stand-in key id, even correctly signed, is nothing on this connection", async () => {
    const before = a.upstream.received.length;
    const res = await once(a, api, 'mallory', httpReq('GET', '/bucket/key', api, await signed(theirs, '/bucket/key')));
    expect(res.status).toBe(200);
    const sent = String(a.upstream.received[before]?.headers.authorization);
    expect(sent).toContain(`Credential=${theirs.accessKeyId}/`);
    expectClean(res.all, sent);
  });

  it('a genuine request is re-signed with the real pair, and the echo of it reads as the stand-in', async () => {
    const before = a.upstream.received.length;
    const res = await once(a, api, 'mallory', httpReq('GET', '/bucket/key', api, await signed(mine, '/bucket/key')));
    expect(res.status).toBe(200);
    expect(String(a.upstream.received[before]?.headers.authorization)).toContain(`Credential=${REAL.id}/`);
    expect(res.text).toContain(`Credential=${mine.accessKeyId}/`);
    expectClean(res.all);
  });
});
