import { request as httpsRequest } from 'node:https';
import { HttpsProxyAgent } from 'hpagent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// Rotation while traffic flows: several clients (each on one keep-alive tunnel) send requests
// back to back while the secret is rotated repeatedly, with a retention of 2 so that old versions
// are pruned under load. Every request must succeed, carry one whole value (never a mix), and never
// go back to an older value than one already rotated away from when it was sent.
const WORKERS = 4;
const ROTATIONS = 6;
const value = (n: number): string => `rotating-REAL-value-${n}-${'x'.repeat(n)}`;

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startHarness();
  h.store.createSecret({
    name: 'rot', scheme: { kind: 'bearer' }, hosts: [`api.standin.test:${h.upstream.port}`],
    value: new SecretValue(value(1)), actor: 'test', keepVersions: 2,
  });
  token = h.store.createSandbox({ name: 'agent', allowHosts: [], bindings: [{ env: 'K', secretName: 'rot' }], actor: 'test' }).bindings[0]!.token;
});

afterAll(async () => {
  await h.close();
});

function get(agent: HttpsProxyAgent, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`https://api.standin.test:${h.upstream.port}${path}`, { agent, ca: h.caPem, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('rotation under traffic', () => {
  it('is picked up by the next request, with no failed request and no mixed value', async () => {
    let rotated = 1; // the version every request sent from now on must use at least
    let running = true;
    const sentAt = new Map<string, number>(); // request path -> current version when it was sent
    const statuses: number[] = [];
    const bodies: string[] = [];

    const worker = async (w: number): Promise<void> => {
      const agent = new HttpsProxyAgent({ proxy: h.proxyUrl('agent'), ca: h.caPem, keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; running && i < 2_000; i++) {
          const path = `/echo/w${w}-${i}`;
          sentAt.set(path, rotated);
          const r = await get(agent, path);
          statuses.push(r.status);
          bodies.push(r.body);
        }
      } finally {
        agent.destroy();
      }
    };
    // Each version serves some requests before the next rotation (a loaded machine can be slow to
    // send the first ones): wait for a few answers, at least 100 ms, at most 10 s.
    const settle = async (): Promise<void> => {
      const target = statuses.length + 2 * WORKERS;
      const deadline = Date.now() + 10_000;
      await new Promise((r) => setTimeout(r, 100));
      while (statuses.length < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    const rotator = async (): Promise<void> => {
      for (let n = 2; n <= ROTATIONS; n++) {
        await settle();
        h.store.rotateSecret('rot', new SecretValue(value(n)), 'test');
        rotated = n;
      }
      await settle();
      running = false;
    };
    await Promise.all([rotator(), ...Array.from({ length: WORKERS }, (_, w) => worker(w))]);

    expect(statuses.length).toBeGreaterThan(ROTATIONS * WORKERS);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    // What really left the gateway: one whole value per request, never older than when it was sent.
    const whole = new Map(Array.from({ length: ROTATIONS }, (_, i) => [`Bearer ${value(i + 1)}`, i + 1]));
    const perWorker = new Map<string, number>();
    const seen = new Set<number>();
    for (const echo of h.upstream.received) {
      const m = /^\/echo\/(w\d+)-\d+$/.exec(echo.url);
      if (!m) continue;
      const used = whole.get(String(echo.headers.authorization));
      expect(used, `request ${echo.url} carried an unexpected credential`).toBeDefined();
      expect(used!).toBeGreaterThanOrEqual(sentAt.get(echo.url)!);
      // Per client, requests are sequential: old then new, never back.
      expect(used!).toBeGreaterThanOrEqual(perWorker.get(m[1]!) ?? 0);
      perWorker.set(m[1]!, used!);
      seen.add(used!);
    }
    expect([...seen].sort()).toEqual(Array.from({ length: ROTATIONS }, (_, i) => i + 1));

    // The network log names the version each request used, matching what the upstream got.
    const byPath = new Map(h.rows({ limit: 100_000 }).map((r) => [r.path, r]));
    for (const echo of h.upstream.received) {
      if (!echo.url.startsWith('/echo/w')) continue;
      const used = whole.get(String(echo.headers.authorization));
      expect(byPath.get(echo.url)).toMatchObject({ status: 200, decision: 'swapped', secrets: [`rot@${used}`] });
    }

    // Retention: only the newest two versions remain, the current one included.
    expect(h.store.getSecret('rot')).toMatchObject({ currentVersion: ROTATIONS, versions: [ROTATIONS - 1, ROTATIONS], keepVersions: 2 });
    for (const b of bodies) for (let n = 1; n <= ROTATIONS; n++) expect(b).not.toContain(value(n));
  });
});
