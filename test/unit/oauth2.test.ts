import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/model/token-format.js';
import { SecretValue } from '../../src/secret-value.js';
import { openDatabase } from '../../src/store/database.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { AccessTokens, type AccessTokenDeps, type TokenEndpointReply } from '../../src/swap/access-tokens.js';
import { parseOAuth2Value } from '../../src/swap/oauth2-config.js';
import { codeOf, run, sandbox, secret, type World } from './pipeline-kit.js';

const CC = JSON.stringify({ clientId: 'app', clientSecret: 'REAL-client-secret', tokenUrl: 'https://auth.example.com/oauth/token', scope: 'read write' });
const RT = JSON.stringify({ clientId: 'app', clientSecret: 'REAL-client-secret', tokenUrl: 'https://auth.example.com/token', refreshToken: 'rt-0' });
const ref = { secretId: 's1', environment: 'default', version: 1 };

interface Call { url: string; form: URLSearchParams; headers: [string, string][] }

function fake(answer: (call: Call, n: number) => TokenEndpointReply | Promise<TokenEndpointReply>) {
  const calls: Call[] = [];
  const stored: { from: number; value: string }[] = [];
  const warnings: string[] = [];
  let now = 1_000_000;
  let version = 1;
  const deps: AccessTokenDeps = {
    post: async (url, form, headers) => {
      const call = { url, form: new URLSearchParams(form), headers };
      calls.push(call);
      return answer(call, calls.length);
    },
    persist: (_id, _env, from, value) => {
      if (from !== version) return undefined;
      stored.push({ from, value });
      return ++version;
    },
    clock: () => now,
    warn: (m) => void warnings.push(m),
  };
  return { deps, calls, stored, warnings, tick: (ms: number) => (now += ms), bumpVersion: () => ++version };
}
const json = (body: unknown, status = 200): TokenEndpointReply => ({ status, body: Buffer.from(JSON.stringify(body)) });

describe('oauth2 value', () => {
  it('checks the document, never echoing a value', () => {
    expect(parseOAuth2Value(CC)).toMatchObject({ clientId: 'app', scope: 'read write', clientAuth: 'basic' });
    for (const bad of ['nope', '[]', '{}', JSON.stringify({ clientId: 'a', clientSecret: 'b', tokenUrl: 'http://x/t' }), JSON.stringify({ clientId: 'a', clientSecret: 'b\nc', tokenUrl: 'https://x/t' }), JSON.stringify({ clientId: 'a', clientSecret: 'SECRETX', tokenUrl: 'https://u:p@x/t' })]) {
      const r = parseOAuth2Value(bad);
      expect(typeof r).toBe('string');
      expect(String(r)).not.toContain('SECRETX');
    }
  });
});

describe('access tokens', () => {
  it('client credentials: Basic client auth, scope, cached until a fifth of the lifetime is left', async () => {
    const f = fake((_c, n) => json({ access_token: `at-${n}`, token_type: 'Bearer', expires_in: 5 }));
    const tokens = new AccessTokens(f.deps);
    expect(await tokens.get(ref, CC)).toBe('at-1');
    const call = f.calls[0]!;
    expect(call.url).toBe('https://auth.example.com/oauth/token');
    expect(Object.fromEntries(call.form)).toEqual({ grant_type: 'client_credentials', scope: 'read write' });
    expect(call.headers).toContainEqual(['Authorization', `Basic ${Buffer.from('app:REAL-client-secret').toString('base64')}`]);
    f.tick(3_900);
    expect(await tokens.get(ref, CC)).toBe('at-1');
    f.tick(200); // 4.1 s into a 5 s token: refreshed
    expect(await tokens.get(ref, CC)).toBe('at-2');
    expect(f.calls).toHaveLength(2);
  });

  it('single flight: concurrent requests share one fetch', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const f = fake(async (_c, n) => {
      await gate;
      return json({ access_token: `at-${n}`, expires_in: 3600 });
    });
    const tokens = new AccessTokens(f.deps);
    const all = Promise.all(Array.from({ length: 20 }, () => tokens.get(ref, CC)));
    release();
    expect(new Set(await all)).toEqual(new Set(['at-1']));
    expect(f.calls).toHaveLength(1);
  });

  it('client_secret_post puts the client in the form', async () => {
    const f = fake(() => json({ access_token: 'at', expires_in: 60 }));
    await new AccessTokens(f.deps).get(ref, JSON.stringify({ ...JSON.parse(CC), clientAuth: 'post' }));
    expect(f.calls[0]?.form.get('client_secret')).toBe('REAL-client-secret');
    expect(f.calls[0]?.headers.some(([n]) => n === 'Authorization')).toBe(false);
  });

  it('a refresh token rotated on every use is stored before its access token is used, and the next refresh uses it', async () => {
    let valid = 'rt-0';
    const f = fake((c, n) => {
      if (c.form.get('grant_type') !== 'refresh_token' || c.form.get('refresh_token') !== valid) return json({ error: 'invalid_grant' }, 400);
      valid = `rt-${n}`;
      return json({ access_token: `at-${n}`, refresh_token: valid, expires_in: 10 });
    });
    const tokens = new AccessTokens(f.deps);
    expect(await tokens.get(ref, RT)).toBe('at-1');
    expect(f.stored).toEqual([{ from: 1, value: JSON.stringify({ ...JSON.parse(RT), refreshToken: 'rt-1' }) }]);
    // Requests now resolve to the stored version 2: the cached token stands for it too.
    expect(await tokens.get({ ...ref, version: 2 }, f.stored[0]!.value)).toBe('at-1');
    f.tick(9_000);
    expect(await tokens.get({ ...ref, version: 2 }, f.stored[0]!.value)).toBe('at-2');
    expect(f.stored.at(-1)).toEqual({ from: 2, value: JSON.stringify({ ...JSON.parse(RT), refreshToken: 'rt-2' }) });
    expect(f.calls).toHaveLength(2);
  });

  it('when the rotated token cannot be stored it is kept in memory for the next refresh, and the operator is told', async () => {
    let valid = 'rt-0';
    const f = fake((c, n) => {
      if (c.form.get('refresh_token') !== valid) return json({ error: 'invalid_grant' }, 400);
      valid = `rt-${n}`;
      return json({ access_token: `at-${n}`, refresh_token: valid, expires_in: 10 });
    });
    f.deps.persist = () => {
      throw new Error('disk full');
    };
    const tokens = new AccessTokens(f.deps);
    expect(await tokens.get(ref, RT)).toBe('at-1');
    f.tick(10_000);
    expect(await tokens.get(ref, RT)).toBe('at-2');
    expect(f.warnings).toEqual(['rotated refresh token could not be stored', 'rotated refresh token could not be stored']);
  });

  it('an operator rotation makes the cached token stale: fetched again with the new value', async () => {
    const f = fake((_c, n) => json({ access_token: `at-${n}`, expires_in: 3600 }));
    const tokens = new AccessTokens(f.deps);
    await tokens.get(ref, CC);
    expect(await tokens.get({ ...ref, version: 5 }, CC)).toBe('at-2');
  });

  it.each<[string, TokenEndpointReply]>([
    ['an error status', json({ error: 'invalid_client' }, 401)],
    ['no JSON', { status: 200, body: Buffer.from('<html>') }],
    ['no access_token', json({ token_type: 'Bearer' })],
    ['a token with a line break', json({ access_token: 'a\r\nX-Evil: 1' })],
    ['another token type', json({ access_token: 'a', token_type: 'mac' })],
  ])('refuses %s as GW_TOKEN_EXCHANGE, and caches no failure', async (_what, reply) => {
    const f = fake(() => reply);
    const tokens = new AccessTokens(f.deps);
    for (let i = 0; i < 2; i++) await expect(tokens.get(ref, CC)).rejects.toMatchObject({ code: 'GW_TOKEN_EXCHANGE' });
    expect(f.calls).toHaveLength(2);
  });
});

describe('oauth2 scheme in the pipeline', () => {
  const token = generateToken();
  const s = secret('api', { kind: 'oauth2' });
  const base: World = { sandboxes: [sandbox()], tokens: new Map([[token, { token, sandboxId: 'sb1', env: 'API', secret: s, version: 3 }]]), values: { [s.id]: CC } };

  it('places the access token as Bearer and scrubs it, the client secret too', async () => {
    const f = fake(() => json({ access_token: 'REAL-ACCESS', expires_in: 60 }));
    const out = await run({ ...base, accessTokens: new AccessTokens(f.deps) }, { headers: [['Authorization', `Bearer ${token}`]] });
    if (!out.ok) throw new Error(out.error.code);
    expect(out.fwd.headers).toContainEqual(['Authorization', 'Bearer REAL-ACCESS']);
    expect(out.ex.applied[0]).toMatchObject({ secretName: 'api', placement: 'Authorization: Bearer [oauth2 access token]' });
    const reals = out.fwd.reflections.map((r) => r.real);
    expect(reals).toContain('REAL-ACCESS');
    expect(reals).toContain('REAL-client-secret');
  });

  it('a failed exchange refuses the request (502), nothing forwarded', async () => {
    const f = fake(() => json({}, 500));
    expect(codeOf(await run({ ...base, accessTokens: new AccessTokens(f.deps) }, { headers: [['Authorization', `Bearer ${token}`]] }))).toBe('GW_TOKEN_EXCHANGE');
    expect(codeOf(await run(base, { headers: [['Authorization', `Bearer ${token}`]] }))).toBe('GW_SECRET_UNAVAILABLE');
  });

  it('the client secret is scrubbed from responses of the secret\'s hosts even without a token', async () => {
    const out = await run(base, {});
    expect(out.ok && out.fwd.reflections.some((r) => r.real === 'REAL-client-secret')).toBe(true);
  });
});

describe('store: rotateSecretIfCurrent', () => {
  const homes: string[] = [];
  afterEach(() => {
    for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
  });

  it('adds a version only while the expected one is current, audited with the reason', () => {
    const home = mkdtempSync(join(tmpdir(), 'standin-cas-'));
    homes.push(home);
    const store = new SqliteStore(openDatabase(join(home, 'db')), randomBytes(32));
    const s = store.createSecret({ name: 'o', scheme: { kind: 'oauth2' }, hosts: ['api.example.com'], value: new SecretValue(RT), actor: 't' });
    expect(store.rotateSecretIfCurrent(s.id, 'default', 1, new SecretValue('v2'), 'gateway', 'oauth2 refresh token rotated')).toBe(2);
    expect(store.secretValue(s.id, 2).expose()).toBe('v2');
    // Someone else moved it on: nothing written.
    expect(store.rotateSecretIfCurrent(s.id, 'default', 1, new SecretValue('v3'), 'gateway', 'r')).toBeUndefined();
    expect(store.getSecret('o')?.currentVersion).toBe(2);
    expect(store.rotateSecretIfCurrent('nope', 'default', 1, new SecretValue('x'), 'gateway', 'r')).toBeUndefined();
    const audit = store.listAudit({ action: 'secret.rotate' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'gateway', target: 'o', detail: { from: 1, to: 2, reason: 'oauth2 refresh token rotated' } });
    expect(JSON.stringify(audit)).not.toContain('v2');
    store.close();
  });
});
