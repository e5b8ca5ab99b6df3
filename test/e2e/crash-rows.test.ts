import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * A row per exchange survives a crash: it is written when the request is forwarded, so a gateway
 * killed with SIGKILL while a swapped response streams still leaves a row naming the credential it
 * sent — marked incomplete, since the gateway never saw the exchange end.
 */

const REAL = 'real-crash-credential-7f6e5d4c3b2a';
let upstream: Upstream;
let gw: ServeProcess;

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startServe(upstream.port, ['api.standin.test']);
  gw.cli(['secret', 'create', 'dl', '--hosts', `api.standin.test:${upstream.port}`, '--value-stdin'], `${REAL}\n`);
  gw.cli(['sandbox', 'create', 'bulk', '--bind', 'DL_TOKEN=dl']);
});

afterAll(async () => {
  await upstream?.close();
  if (gw) removeHome(gw.home);
});

describe('rows across SIGKILL', () => {
  it('a swapped download cut by SIGKILL mid-stream leaves its row, incomplete, naming the secret', async () => {
    const env = gw.sandboxEnv('bulk');
    // curl reads a slow trickle (--limit-rate): the response is still streaming when the gateway dies.
    const client = spawn('curl', ['-sS', '-o', '/dev/null', '--limit-rate', '100k', '-H', `Authorization: Bearer ${env.DL_TOKEN}`, `https://api.standin.test:${upstream.port}/bytes?n=500000000`], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    while (!upstream.received.some((e) => e.url.startsWith('/bytes')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(upstream.received.some((e) => e.headers.authorization === `Bearer ${REAL}`)).toBe(true);
    // Longer than the writer's batch interval (50 ms), far shorter than the download.
    await new Promise((r) => setTimeout(r, 400));
    process.kill(gw.pid, 'SIGKILL');
    await new Promise<void>((r) => gw.child.once('exit', () => r()));
    client.kill();

    const db = new Database(join(gw.home, 'standin.db'), { readonly: true });
    const rows = db.prepare("SELECT * FROM network_log WHERE path LIKE '/bytes%'").all() as Record<string, unknown>[];
    db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ complete: 0, decision: 'swapped', sandbox: 'bulk', secrets: '["dl@1"]', path: '/bytes?n=[redacted]', method: 'GET' });
    // The CLI shows it too, as incomplete, and nothing anywhere holds the value.
    const log = gw.cli(['log', '--json']);
    expect(log.code).toBe(0);
    const row = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => String(r.path).startsWith('/bytes'));
    expect(row).toMatchObject({ complete: false, secrets: ['dl@1'] });
    expect(log.stdout + gw.stdout() + gw.stderr()).not.toContain(REAL);
  }, 30_000);
});
