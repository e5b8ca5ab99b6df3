import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryOf, removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const GB = 1_000_000_000;
let upstream: Upstream;
let gw: ServeProcess;
let env: Record<string, string>;

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startServe(upstream.port, ['api.standin.test']);
  gw.cli(['secret', 'create', 'dl', '--hosts', `api.standin.test:${upstream.port}`, '--value-stdin'], 'real-download-credential-0000\n');
  gw.cli(['sandbox', 'create', 'bulk', '--bind', 'DL_TOKEN=dl']);
  env = gw.sandboxEnv('bulk');
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  if (gw) removeHome(gw.home);
});

describe('streaming with backpressure', () => {
  // Two runs: untouched, and swapped (the response then goes through the scrubber).
  for (const swapped of [false, true]) {
    it(`1 GB download through the gateway grows its memory by tens of MB at most (${swapped ? 'swapped' : 'plain'})`, async () => {
      const before = memoryOf(gw.pid);
      const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `https://api.standin.test:${upstream.port}/bytes?n=${GB}`];
      if (swapped) args.unshift('-H', `Authorization: Bearer ${env.DL_TOKEN}`);
      const r = await runClient('curl', args, { ...process.env, ...env }, 120_000);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(`200 ${GB}`);
      const after = memoryOf(gw.pid);
      const growth = after.peak - Math.max(before.rss, 1);
      expect(growth).toBeLessThan(64 * 1024 * 1024);
    }, 150_000);
  }
});
