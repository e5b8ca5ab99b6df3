import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { call, controlOf, jsonBody, type Target } from '../control/http.js';
import { removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// `standin masterkey rotate` while `standin serve` runs: the gateway must notice that its key is
// stale before it encrypts or decrypts anything with it, take the new key file, and keep serving:
// no request fails, and nothing it writes afterwards is under the old key.
const V1 = 'PLANTED-mk-serve-v1-91ac';
const V2 = 'PLANTED-mk-serve-v2-3e7d';
const V3 = 'PLANTED-mk-serve-v3-c042';

let upstream: Upstream;
let serve: ServeProcess;
let control: Target;
let host: string;

function ok(args: string[], input?: string): string {
  const r = serve.cli(args, input);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function authSeen(sandbox: string, token: string): Promise<string | undefined> {
  const env = serve.sandboxEnv(sandbox);
  const before = upstream.received.length;
  const r = await runClient('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${token}`, `https://${host}/echo`], { PATH: process.env.PATH, ...env });
  expect(r.out).toBe('200');
  return upstream.received.slice(before).at(-1)?.headers.authorization as string | undefined;
}

beforeAll(async () => {
  upstream = await startUpstream();
  host = `api.standin.test:${upstream.port}`;
  serve = await startServe(upstream.port, ['api.standin.test']);
  control = controlOf(serve.home);
  ok(['secret', 'create', 'svc', '--hosts', host, '--value-stdin'], V1);
  ok(['sandbox', 'create', 'agent', '--bind', 'SVC=svc']);
});

afterAll(async () => {
  await serve?.stop();
  if (serve !== undefined) removeHome(serve.home);
  await upstream?.close();
});

describe('master key rotation while serve runs', () => {
  it('keeps serving, and writes new values under the new key', async () => {
    const token = serve.sandboxEnv('agent').SVC!;
    expect(await authSeen('agent', token)).toBe(`Bearer ${V1}`);
    const before = readFileSync(join(serve.home, 'master.key'), 'utf8');
    expect(ok(['masterkey', 'rotate'])).toContain('picks up the new key file by itself');
    const after = readFileSync(join(serve.home, 'master.key'), 'utf8');
    expect(after).not.toBe(before);

    // A version the gateway has never decrypted, written by the CLI under the new key.
    ok(['secret', 'rotate', 'svc', '--value-stdin'], V2);
    expect(await authSeen('agent', token)).toBe(`Bearer ${V2}`);

    // The gateway itself encrypts (control API) and decrypts (a proxy key for /env) after the rotation.
    const rotated = await call(control, 'POST', '/v1/secrets/svc/rotate', jsonBody({ value: V3 }));
    expect(rotated.status).toBe(200);
    expect(await authSeen('agent', token)).toBe(`Bearer ${V3}`);
    const env = await call(control, 'GET', '/v1/sandboxes/agent/env');
    expect(env.status).toBe(200);
    expect((env.json() as Record<string, string>).SVC).toBe(token);

    // What the gateway wrote is under the key in the file, not the one it started with.
    const store = new SqliteStore(openDatabase(join(serve.home, 'standin.db')), Buffer.from(after.trim(), 'base64'));
    try {
      const svc = store.getSecret('svc')!;
      expect(store.secretValue(svc.id, svc.currentVersion!).expose()).toBe(V3);
    } finally {
      store.close();
    }
    for (const t of [serve.stdout(), serve.stderr()]) for (const v of [V1, V2, V3]) expect(t).not.toContain(v);
    expect(serve.stderr()).not.toMatch(/GW_SECRET_UNAVAILABLE/);
  });
});
