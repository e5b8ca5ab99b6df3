import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../control/http.js';
import { removeHome, ROOT, runClient, startServe, type ServeProcess, databaseText } from '../helpers/serve.js';
import { CERTS, TEST_CA, startUpstream, type Upstream } from '../helpers/upstream.js';

// AWS SigV4 with real clients — boto3, the AWS CLI, @aws-sdk/client-s3 — configured only by
// `standin sandbox env` plus their base URL, against moto's S3 with IAM authentication on: moto
// checks every header signature with botocore against the real key, so a request the gateway did
// not re-sign correctly fails. Presigned URLs are checked by botocore's own query signer.
const CLIENTS = join(import.meta.dirname, 'clients');
let moto: ChildProcess;
let motoPort: number;
let echo: Upstream;
let gw: ServeProcess;
let real: { id: string; secret: string; temp: { id: string; secret: string; token: string } };
let env: Record<string, string>;
let config: string;

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('moto did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  motoPort = await freePort();
  // Five unauthenticated calls set up IAM; from then on moto enforces SigV4 on every request.
  moto = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(motoPort), '-c', join(CERTS, 'upstream.pem'), '-k', join(CERTS, 'upstream-key.pem')], {
    // The custom endpoint is S3's: path-style bucket names, not a bucket named by the first label.
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: '5', MOTO_S3_CUSTOM_ENDPOINTS: `https://s3.standin.test:${motoPort}` },
    stdio: 'ignore',
  });
  await waitForPort(motoPort, 30_000);
  const setup = await runClient('python3', [join(CLIENTS, 'moto_setup.py'), `https://127.0.0.1:${motoPort}`, TEST_CA], process.env);
  expect(setup.code, setup.err).toBe(0);
  real = JSON.parse(setup.out) as typeof real;
  echo = await startUpstream();
  gw = await startServe(motoPort, ['s3.standin.test', 'api.standin.test'], ['--allow-dest', `127.0.0.1:${echo.port}`]);
  const created = gw.cli(['secret', 'create', 'aws-prod', '--provider', 'aws', '--hosts', `s3.standin.test:${motoPort},api.standin.test:${echo.port}`, '--value-stdin'], `${real.id}:${real.secret}\n`);
  expect(created.code, created.stderr).toBe(0);
  const temp = gw.cli(['secret', 'create', 'aws-temp', '--provider', 'aws', '--hosts', `s3.standin.test:${motoPort}`, '--value-stdin'], `${real.temp.id}:${real.temp.secret}:${real.temp.token}\n`);
  expect(temp.code, temp.stderr).toBe(0);
  const sb = gw.cli(['sandbox', 'create', 'agent', '--bind', 'AWS_ACCESS_KEY_ID=aws-prod', '--bind', 'TEMP_ACCESS_KEY_ID=aws-temp']);
  expect(sb.code, sb.stderr).toBe(0);
  const dir = mkdtempSync(join(tmpdir(), 'standin-aws-'));
  config = join(dir, 'config');
  // S3-compatible endpoints are usually addressed path-style, and SigV4 presigned URLs asked for
  // (botocore presigns with SigV2 for a custom endpoint in us-east-1); nothing else is configured.
  writeFileSync(config, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n');
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_'))) as Record<string, string>;
  env = {
    ...clean,
    ...gw.sandboxEnv('agent'),
    AWS_ENDPOINT_URL: `https://s3.standin.test:${motoPort}`,
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    NODE_PATH: join(ROOT, 'node_modules'),
  };
});

afterAll(async () => {
  await gw?.stop();
  moto?.kill();
  await echo?.close();
  if (gw) removeHome(gw.home);
});

function expectNoReal(text: string): void {
  for (const v of [real.secret, real.id, real.temp.id, real.temp.secret, real.temp.token]) expect(text).not.toContain(v);
}

describe('SigV4 with real AWS clients', () => {
  it('sandbox env exports an AWS-shaped stand-in pair, never the real one', () => {
    expect(env.AWS_ACCESS_KEY_ID).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(env.AWS_SECRET_ACCESS_KEY).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(env.AWS_ACCESS_KEY_ID).not.toBe(real.id);
    expect(env.AWS_CA_BUNDLE).toBe(env.SSL_CERT_FILE);
  });

  it('boto3: list, put with a body, get, and a presigned GET, verified by moto against the real key', async () => {
    const r = await runClient('python3', [join(CLIENTS, 'boto3_s3.py'), 'standin-e2e', 'hello.txt'], { ...env, ECHO_ENDPOINT: `https://api.standin.test:${echo.port}` });
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { buckets: string[]; keys: string[]; same: boolean; echo: number };
    expect(out).toMatchObject({ buckets: ['standin-e2e'], keys: ['hello.txt'], same: true, echo: 200 });
    expectNoReal(r.out + r.err);
    // The presigned URL as it arrived upstream: signed with the real pair, as botocore computes it.
    const arrived = echo.received.at(-1)?.url ?? '';
    expect(arrived).toContain(`X-Amz-Credential=${real.id}`);
    const check = await runClient('python3', [join(CLIENTS, 'verify_presigned.py'), `https://api.standin.test:${echo.port}${arrived}`, real.id, real.secret], process.env);
    expect(check.out.trim(), check.err).toBe('valid');
  });

  it('the AWS CLI: ls, cp up (with a body), cp down, presign', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'standin-cli-')), 'up.txt');
    writeFileSync(file, 'from the aws cli\n'.repeat(4000));
    const aws = (...args: string[]) => runClient('aws', args, env);
    const up = await aws('s3', 'cp', file, 's3://standin-e2e/cli.txt');
    expect(up.code, up.err).toBe(0);
    // `aws s3 ls s3://bucket/` sends prefix= and delimiter=/, whose signature moto itself gets
    // wrong (boto3 straight to moto fails the same way): list the buckets and the keys instead.
    const buckets = await aws('s3', 'ls');
    expect(buckets.code, buckets.err).toBe(0);
    expect(buckets.out).toContain('standin-e2e');
    const ls = await aws('s3api', 'list-objects-v2', '--bucket', 'standin-e2e', '--query', 'Contents[].Key', '--output', 'text');
    expect(ls.code, ls.err).toBe(0);
    expect(ls.out).toContain('cli.txt');
    const down = await aws('s3', 'cp', 's3://standin-e2e/cli.txt', '-');
    expect(down.code, down.err).toBe(0);
    expect(down.out).toBe(readFileSync(file, 'utf8'));
    const presign = await aws('s3', 'presign', 's3://standin-e2e/cli.txt', '--endpoint-url', `https://api.standin.test:${echo.port}`);
    expect(presign.code, presign.err).toBe(0);
    const fetched = await runClient('curl', ['-sS', '--fail', presign.out.trim()], env);
    expect(fetched.code, fetched.err).toBe(0);
    const arrived = echo.received.at(-1)?.url ?? '';
    const check = await runClient('python3', [join(CLIENTS, 'verify_presigned.py'), `https://api.standin.test:${echo.port}${arrived}`, real.id, real.secret], process.env);
    expect(check.out.trim(), check.err).toBe('valid');
    for (const x of [up, buckets, ls, down, presign, fetched]) expectNoReal(x.out + x.err);
  });

  it('@aws-sdk/client-s3: put, list, get', async () => {
    const r = await runClient(process.execPath, [join(CLIENTS, 'node_s3.mjs'), 'standin-e2e', 'js.txt'], env);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ same: true, keys: expect.arrayContaining(['js.txt', 'hello.txt']) });
    expectNoReal(r.out + r.err);
  });

  it('a signed aws-chunked upload is re-signed chunk by chunk as it streams: S3 stores it, the chain verifies independently', async () => {
    const put = await runClient(process.execPath, [join(CLIENTS, 'node_chunked_put.mjs'), `https://s3.standin.test:${motoPort}/standin-e2e/chunked.bin`, '5', '70000'], env);
    expect(put.code, put.err).toBe(0);
    expect(JSON.parse(put.out)).toMatchObject({ status: 200 });
    const got = await runClient('aws', ['s3', 'cp', 's3://standin-e2e/chunked.bin', '-'], env);
    expect(got.code, got.err).toBe(0);
    expect(got.out.length).toBe(350_000);
    expect(got.out.startsWith('a'.repeat(70_000) + 'b')).toBe(true);
    // The same upload to the echo: what arrives is checked by botocore's key and S3's documented chain.
    const before = echo.received.length;
    const toEcho = await runClient(process.execPath, [join(CLIENTS, 'node_chunked_put.mjs'), `https://api.standin.test:${echo.port}/standin-e2e/chunked.bin`, '3', '1000'], env);
    expect(toEcho.code, toEcho.err).toBe(0);
    const arrived = echo.received[before]!;
    const auth = String(arrived.headers.authorization);
    const doc = JSON.stringify({
      secret: real.secret,
      amzDate: String(arrived.headers['x-amz-date']),
      scope: /Credential=[^/]+\/([^,]+)/.exec(auth)?.[1],
      seed: /Signature=([0-9a-f]{64})/.exec(auth)?.[1],
      body: Buffer.from(arrived.body, 'latin1').toString('base64'),
    });
    const check = await new Promise<string>((resolve) => {
      const child = spawn('python3', [join(CLIENTS, 'verify_chunks.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('close', () => resolve(out.trim()));
      child.stdin.end(doc);
    });
    expect(check).toBe('valid 3000');
    expect(auth).toContain(`Credential=${real.id}/`);
    expectNoReal(put.out + put.err + toEcho.out);
  });

  it('temporary credentials: the gateway adds the real session token; moto checks it with the ASIA key', async () => {
    const r = await runClient('aws', ['s3', 'ls'], { ...env, AWS_ACCESS_KEY_ID: env.TEMP_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: env.TEMP_SECRET_ACCESS_KEY! });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('standin-e2e');
    expectNoReal(r.out + r.err);
    const log = gw.cli(['log', '--json', '--sandbox', 'agent']);
    expect(log.stdout).toContain('aws-temp@1');
  });

  it('a request signed without the stand-in secret is refused (403) and never reaches S3', async () => {
    const r = await runClient('aws', ['s3', 'ls'], { ...env, AWS_SECRET_ACCESS_KEY: 'x'.repeat(40) });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/403|Forbidden|not signed with the stand-in/i);
    expectNoReal(r.out + r.err);
    const log = gw.cli(['log', '--json', '--sandbox', 'agent']);
    const rows = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { errorCode: string | null; secrets: string[]; decision: string });
    expect(rows.some((x) => x.errorCode === 'GW_SIGNATURE_INVALID' && x.secrets[0] === 'aws-prod@1')).toBe(true);
  });

  it('every swapped row names the secret; the real pair is in no gateway output, log or database', async () => {
    const log = gw.cli(['log', '--json', '--sandbox', 'agent']);
    const rows = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { decision: string; secrets: string[] });
    const swapped = rows.filter((x) => x.decision === 'swapped');
    expect(swapped.length).toBeGreaterThanOrEqual(10);
    for (const x of swapped) expect(['aws-prod@1', 'aws-temp@1']).toContain(x.secrets[0]);
    expect(await gw.stop()).toBe(0);
    const db = databaseText(gw.home);
    for (const text of [gw.stdout(), gw.stderr(), log.stdout, db]) expectNoReal(text);
  });
});
