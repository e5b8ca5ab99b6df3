import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, TEST_CA, type Upstream } from '../helpers/upstream.js';
import { readFileSync } from 'node:fs';
import { createClient } from '../../src/sdk/client.js';

/**
 * `sandbox check`: every binding self-tested through the running gateway as the sandbox, answered
 * by the gateway itself (nothing reaches the secret's hosts), and a probe command whose traffic is
 * counted — so silent non-substitution (a bypassing client, a wrong placement, an untrusted CA) is
 * reported in plain words before the first real call.
 */

const REAL = 'real-check-credential-5a4b3c2d1e';
let upstream: Upstream;
let gw: ServeProcess;
let host: string;

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startServe(upstream.port, ['api.standin.test', 'q.standin.test']);
  host = `api.standin.test:${upstream.port}`;
  gw.cli(['secret', 'create', 'bearer-key', '--hosts', host, '--value-stdin'], `${REAL}\n`);
  gw.cli(['secret', 'create', 'header-key', '--hosts', host, '--scheme', 'header:x-api-key', '--value-stdin'], `${REAL}-h\n`);
  gw.cli(['secret', 'create', 'query-key', '--hosts', `*.standin.test:${upstream.port}`, '--scheme', 'query:key', '--value-stdin'], `${REAL}-q\n`);
  expect(gw.cli(['sandbox', 'create', 'agent', '--bind', 'A=bearer-key', '--bind', 'H=header-key', '--bind', 'Q=query-key']).code).toBe(0);
  expect(gw.cli(['sandbox', 'create', 'fenced', '--bind', 'A=bearer-key', '--allow-host', 'elsewhere.example.com']).code).toBe(0);
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  if (gw) removeHome(gw.home);
});

describe('standin sandbox check', () => {
  it('reports each binding swapped, where, with the CA trusted — and nothing reached the upstream', async () => {
    const before = upstream.received.length;
    const r = gw.cli(['sandbox', 'check', 'agent']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok {3}A -> bearer-key \(bearer\) for api\.standin\.test:\d+: swapped as bearer-key@1 in Authorization: Bearer \[secret\]; CA trusted$/m);
    expect(r.stdout).toMatch(/^ok {3}H -> header-key .* in x-api-key: \[secret\]/m);
    expect(r.stdout).toMatch(/^ok {3}Q -> query-key .* for standin-check\.standin\.test:\d+: swapped as query-key@1 in \?key=\[secret\]/m);
    expect(upstream.received.length).toBe(before);
    const json = JSON.parse(gw.cli(['sandbox', 'check', 'agent', '--json']).stdout) as { ok: boolean; bindings: { swapped: boolean; caTrusted: boolean }[] };
    expect(json.ok).toBe(true);
    expect(json.bindings.every((b) => b.swapped && b.caTrusted)).toBe(true);
    // The self-tests are logged as what they were: answered by the gateway, not forwarded.
    const rows = gw.cli(['log', '--json', '--sandbox', 'agent']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { errorCode: string | null; upstreamIp: string | null });
    expect(rows.filter((row) => row.errorCode === 'GW_CHECK_ONLY').length).toBeGreaterThanOrEqual(3);
    expect(rows.filter((row) => row.errorCode === 'GW_CHECK_ONLY').every((row) => row.upstreamIp === null)).toBe(true);
  });

  it('a CA bundle that does not hold the standin CA is reported, in plain words, exit 1', () => {
    const bundle = join(gw.home, 'untrusting.pem');
    writeFileSync(bundle, readFileSync(TEST_CA, 'utf8'));
    const r = gw.cli(['sandbox', 'check', 'agent', '--ca-file', bundle]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL A -> bearer-key .*does not trust the gateway's certificate/);
  });

  it('a sandbox whose egress policy excludes its secret\'s host is told so', () => {
    const r = gw.cli(['sandbox', 'check', 'fenced']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL A -> bearer-key .*refused the tunnel .*403 GW_EGRESS_DENIED/);
  });

  it('--command: a client using the proxy is counted; one that bypasses it, or puts the token in the wrong place, is a FAIL', async () => {
    const url = `https://${host}/echo`;
    // Run without blocking this process: the upstream the command calls lives here.
    const check = async (command: string): Promise<{ code: number; stdout: string; stderr: string }> => {
      const r = await runClient(process.execPath, [CLI, 'sandbox', 'check', 'agent', '--command', command], { ...process.env, STANDIN_HOME: gw.home }, 60_000);
      return { code: r.code, stdout: r.out, stderr: r.err };
    };
    const good = await check(`curl -sS -o /dev/null -H "Authorization: Bearer $A" ${url}`);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(good.stdout).toMatch(/ok {3}command exited 0: 1 request\(s\) through the gateway, 1 swapped, 0 refused/);
    const bypass = await check('true');
    expect(bypass.code).toBe(1);
    expect(bypass.stdout).toMatch(/FAIL command exited 0 and sent nothing through the gateway: it bypasses the proxy/);
    const misplaced = await check(`curl -sS -o /dev/null -H "X-Other: $A" ${url}`);
    expect(misplaced.code).toBe(1);
    expect(misplaced.stdout).toMatch(/FAIL command exited 0: 1 request\(s\) through the gateway, 0 swapped, 1 refused \(1 x GW_TOKEN_PLACEMENT: Stand-in token is not in a place its secret is applied to\)/);
    for (const r of [good, bypass, misplaced]) expect(r.stdout + r.stderr).not.toContain(REAL);
    expect(gw.stdout() + gw.stderr()).not.toContain(REAL);
  });

  it('the control API and the SDK run the same self-test (sandboxes.check)', async () => {
    const client = createClient({ control: `unix:${join(gw.home, 'run', 'control.sock')}` });
    const report = await client.sandboxes.check('agent');
    expect(report.ok).toBe(true);
    expect(report.bindings.map((b) => [b.env, b.swapped, b.caTrusted, b.applied[0]?.placement])).toEqual([
      ['A', true, true, 'Authorization: Bearer [secret]'],
      ['H', true, true, 'x-api-key: [secret]'],
      ['Q', true, true, '?key=[secret]'],
    ]);
    const fenced = await client.sandboxes.check('fenced');
    expect(fenced.ok).toBe(false);
    expect(fenced.bindings[0]).toMatchObject({ swapped: false, code: 'GW_EGRESS_DENIED' });
    expect(JSON.stringify([report, fenced])).not.toContain(REAL);
  });

  it('an unknown sandbox is a usage error', () => {
    const r = gw.cli(['sandbox', 'check', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
