import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { SecretValue } from '../../src/secret-value.js';
import { parseDatabaseChoice } from '../../src/store/database-url.js';
import { openPgStore } from '../../src/store/pg/open-pg.js';
import { PgKeyRing } from '../../src/store/pg/pg-key-ring.js';
import { PgStore } from '../../src/store/pg/pg-store.js';
import { PgSnapshot } from '../../src/store/pg/snapshot.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';

// The request path's snapshot on PostgreSQL: answers from memory, follows every change, never
// serves a revoked token again once it has seen the revocation, fails closed when it cannot be
// confirmed, and follows a master-key rotation made elsewhere.
const PLANTED = 'sk-PLANTED-snapshot-5c1d';
let pg: PgCluster;

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.destroy());

async function open(url: string, key: Buffer, reload?: () => Buffer[]): Promise<PgStore> {
  const c = parseDatabaseChoice(url);
  if (c.kind !== 'postgres') throw new Error('not postgres');
  return openPgStore(c, key, reload === undefined ? {} : { reloadKey: reload });
}

async function until(check: () => boolean, ms = 2_000): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}

describe('PgSnapshot', () => {
  it('follows writes made through another connection, and never brings a revoked token back', async () => {
    const url = pg.createDatabase();
    const key = randomBytes(32);
    const writer = await open(url, key);
    const reader = await open(url, key);
    await writer.createSecret({ name: 's', scheme: { kind: 'bearer' }, hosts: ['api.example.com'], value: new SecretValue(PLANTED), actor: 't' });
    const { sandbox, proxyKey, bindings } = await writer.createSandbox({ name: 'Box', allowHosts: [], bindings: [{ env: 'K', secretName: 's' }], actor: 't' });
    const snap = await PgSnapshot.start(reader.db, url, reader.keys, { pollMs: 10_000 });
    try {
      const token = bindings[0]!.token;
      const r = snap.resolveToken(token);
      expect(r).toMatchObject({ sandboxId: sandbox.id, env: 'K', version: 1 });
      expect(snap.secretValue(r!.secret.id, 1).expose()).toBe(PLANTED);
      expect(snap.authenticateSandbox('box', proxyKey)?.id).toBe(sandbox.id);
      expect(snap.authenticateSandbox('other', proxyKey)).toBeUndefined();
      expect(snap.tokensOfSandbox(sandbox.id)).toEqual([token]);

      // A rotation arrives by NOTIFY (the poll is 10 s away).
      await writer.rotateSecret('s', new SecretValue('rotated-value'), 't');
      expect(await until(() => snap.resolveToken(token)?.version === 2)).toBeLessThan(1_000);

      // Reloads racing the unbind: once the unbind is seen, no reload brings the token back.
      const racing = Array.from({ length: 20 }, (_, i) => new Promise((r) => setTimeout(r, i * 3)).then(() => snap.reload()));
      await writer.unbind('box', 'K', 't');
      await until(() => snap.resolveToken(token) === undefined);
      const seqAtRevocation = snap.seq;
      for (const p of racing) {
        await p;
        expect(snap.resolveToken(token)).toBeUndefined();
      }
      await snap.reload();
      expect(snap.seq).toBeGreaterThanOrEqual(seqAtRevocation);
      expect(snap.resolveToken(token)).toBeUndefined();
      expect(snap.unboundSecrets(sandbox.id).map((u) => u.token)).toEqual([token]);

      await writer.deleteSandbox('box', 't');
      await until(() => snap.getSandboxById(sandbox.id) === undefined);
      expect(snap.authenticateSandbox('box', proxyKey)).toBeUndefined();
    } finally {
      await snap.close();
      await writer.close();
      await reader.close();
    }
  });

  it('refuses swaps once unconfirmed past the bound, and recovers when the database is back', async () => {
    const url = pg.createDatabase();
    const key = randomBytes(32);
    const store = await open(url, key);
    await store.createSecret({ name: 's', scheme: { kind: 'bearer' }, hosts: ['api.example.com'], value: new SecretValue(PLANTED), actor: 't' });
    const { bindings } = await store.createSandbox({ name: 'box', allowHosts: [], bindings: [{ env: 'K', secretName: 's' }], actor: 't' });
    let now = 1_000_000;
    const snap = await PgSnapshot.start(store.db, url, store.keys, { pollMs: 50, staleMs: 1_000, clock: () => now });
    const token = bindings[0]!.token;
    try {
      pg.stop();
      now += 900;
      await new Promise((r) => setTimeout(r, 200));
      expect(snap.reachable()).toBe(false);
      expect(snap.resolveToken(token)).toBeDefined(); // within the bound: still served
      now += 200;
      const e = (() => {
        try {
          snap.resolveToken(token);
          return undefined;
        } catch (x) {
          return x;
        }
      })();
      expect(e).toBeInstanceOf(GatewayError);
      expect((e as GatewayError).code).toBe('GW_STORE_STALE');
      expect(() => snap.secretValue('x', 1)).toThrow(GatewayError);
      expect(snap.resolveToken('unknown-token')).toBeUndefined(); // nothing to refuse
      pg.start();
      await until(() => !snap.stale(), 10_000);
      expect(snap.resolveToken(token)).toBeDefined();
    } finally {
      if (snap.stale()) pg.start();
      await snap.close();
      await store.close();
    }
  }, 40_000);

  it('follows a master-key rotation made by another process, given the new key', async () => {
    const url = pg.createDatabase();
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    let available: Buffer[] = [];
    const gateway = await open(url, oldKey, () => available);
    const admin = await open(url, oldKey);
    const s = await admin.createSecret({ name: 's', scheme: { kind: 'bearer' }, hosts: ['api.example.com'], value: new SecretValue(PLANTED), actor: 't' });
    const snap = await PgSnapshot.start(gateway.db, url, new PgKeyRing(oldKey, () => available), { pollMs: 50 });
    try {
      expect(snap.secretValue(s.id, 1).expose()).toBe(PLANTED);
      const seq = snap.seq;
      await admin.rekey(oldKey, newKey, 't');
      await until(() => snap.seq > seq);
      // Without the new key: refused, never decrypted with a wrong one.
      expect(() => snap.secretValue(s.id, 1)).toThrow(GatewayError);
      available = [newKey];
      expect(snap.secretValue(s.id, 1).expose()).toBe(PLANTED);
      // The gateway's own writes use the new key too.
      expect(await gateway.rotateSecret('s', new SecretValue('after-rekey'), 't')).toBe(2);
      expect((await admin.forTenant('default')).backend).toBe('postgres');
    } finally {
      await snap.close();
      await gateway.close();
      await admin.close();
    }
  });
});
