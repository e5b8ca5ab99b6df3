import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viaProxy, type Reply } from '../helpers/client.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { removeHome, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// `masterkey rotate` fleet-wide: run on gateway A, it re-encrypts the database (secrets, proxy
// keys, the fleet CA) in one transaction. Gateway B, whose key file still holds the old key, fails
// closed on a value it has not decrypted yet (never a wrong value), and picks the new key up from
// its key file, without a restart, once the operator has put the new key there.
const PLANTED = `sk-PLANTED-mk-${randomBytes(6).toString('hex')}`;
const NEXT = `sk-PLANTED-mk-next-${randomBytes(6).toString('hex')}`;
const HOST = 'api.standin.test';

let pg: PgCluster;
let upstream: Upstream;
let a: ServeProcess;
let b: ServeProcess;

beforeAll(async () => {
  pg = await startPostgres();
  upstream = await startUpstream();
  const env = { STANDIN_DATABASE_URL: pg.createDatabase() };
  a = await startServe(upstream.port, [HOST], [], undefined, env);
  const bHome = mkdtempSync(join(tmpdir(), 'standin-e2e-b-'));
  copyFileSync(join(a.home, 'master.key'), join(bHome, 'master.key'));
  chmodSync(join(bHome, 'master.key'), 0o600);
  b = await startServe(upstream.port, [HOST], [], bHome, env);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await upstream?.close();
  pg?.destroy();
  for (const g of [a, b]) if (g !== undefined) removeHome(g.home);
});

describe('masterkey rotate on a fleet', () => {
  it('re-encrypts everything once; the other gateway follows its key file', async () => {
    expect(a.cli(['secret', 'create', 'svc', '--hosts', `${HOST}:${upstream.port}`, '--value-stdin'], PLANTED).code).toBe(0);
    const created = a.cli(['sandbox', 'create', 'agent', '--bind', 'K=svc', '--json']);
    const e = (JSON.parse(created.stdout) as { env: Record<string, string> }).env;
    const ca = readFileSync(join(a.home, 'ca', 'ca.pem'), 'utf8');
    const viaB = (): Promise<Reply> =>
      viaProxy((e['HTTPS_PROXY'] ?? '').replace(/@[^@]+$/, `@${b.proxy}`), ca, `https://${HOST}:${upstream.port}/echo`, { headers: { authorization: `Bearer ${e['K']}` } });
    const seen = async (value: string, ms = 3_000): Promise<Reply> => {
      const end = Date.now() + ms;
      for (;;) {
        const r = await viaB();
        if (r.status === 200 && upstream.received.at(-1)?.headers.authorization === `Bearer ${value}`) return r;
        if (Date.now() > end) return r;
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    expect((await seen(PLANTED)).status).toBe(200);

    const rotated = a.cli(['masterkey', 'rotate']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/re-encrypted 1 secret versions and 1 sandbox keys/);
    const audit = JSON.parse(a.cli(['audit', '--action', 'masterkey.rotate', '--json']).stdout) as { detail: { ca?: boolean } }[];
    expect(audit[0]?.detail.ca).toBe(true);

    // A new version B has never decrypted: B holds only the old key, so it refuses (502), never guesses.
    expect(a.cli(['secret', 'rotate', 'svc', '--value-stdin'], NEXT).code).toBe(0);
    const refused = await seen(NEXT, 1_500);
    expect(refused.status).toBe(502);
    expect(refused.body).toContain('GW_SECRET_UNAVAILABLE');

    // The operator puts the new key in B's key file: B takes it on the next request.
    copyFileSync(join(a.home, 'master.key'), join(b.home, 'master.key'));
    const ok = await seen(NEXT);
    expect(ok.status).toBe(200);
    expect(ok.body).not.toContain(NEXT);
    for (const g of [a, b]) for (const t of [g.stdout(), g.stderr()]) for (const v of [PLANTED, NEXT]) expect(t).not.toContain(v);
  }, 60_000);
});
