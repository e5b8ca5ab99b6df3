import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * The four ways to answer "what did this sandbox reach, with which secret, and what was refused?"
 * against a real gateway and curl: the filtered table, stats, export, explain; and `log verify`
 * catching an edit made to the database by hand.
 */

const REAL = 'sk-REAL-inspect-value-93d1c7a5e2';
let upstream: Upstream;
let gw: ServeProcess;
let port: number;
let env: Record<string, string>;
const outputs: string[] = [];

const curl = async (url: string, token: string): Promise<{ code: number; out: string }> => {
  const r = await runClient('curl', ['-sS', '-H', `Authorization: Bearer ${token}`, url], { ...process.env, ...env });
  if (r.code !== 0) throw new Error(`curl ${url}: ${r.code} ${r.err}`);
  return { code: r.code, out: r.out };
};
const cli = (args: string[], input?: string): { code: number; stdout: string; stderr: string } => {
  const r = gw.cli(args, input);
  outputs.push(r.stdout, r.stderr);
  return r;
};
const ok = (args: string[], input?: string): string => {
  const r = cli(args, input);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
};
const jsonLines = (text: string): Record<string, unknown>[] => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  upstream = await startUpstream();
  port = upstream.port;
  gw = await startServe(port, ['api.standin.test', 'other.standin.test']);
  ok(['secret', 'create', 'openai', '--hosts', `api.standin.test:${port}`, '--value-stdin'], 'sk-first-version-value\n');
  ok(['sandbox', 'create', 'agent', '--bind', 'OPENAI_API_KEY=openai', '--allow-host', `other.standin.test:${port}`, '--allow-host', `api.standin.test:${port}`]);
  env = gw.sandboxEnv('agent');
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  if (gw) removeHome(gw.home);
});

describe('log inspection', () => {
  it('filters the table, exports, counts, explains and verifies', async () => {
    outputs.length = 0; // `sandbox create` printed the sandbox's own stand-ins, as it should
    ok(['secret', 'rotate', 'openai', '--value-stdin'], `${REAL}\n`);
    const token = env.OPENAI_API_KEY ?? '';
    expect((await curl(`https://api.standin.test:${port}/v1/models`, token)).code).toBe(0);
    expect((await curl(`https://api.standin.test:${port}/v1/<script>alert(1)</script>?q=secret-query`, token)).code).toBe(0);
    // A stand-in and an escape sequence in the path (percent-encoded on the wire, as curl sends them).
    expect((await curl(`https://api.standin.test:${port}/v2/${token}/%1b%5b31mred`, token)).code).toBe(0);
    const refused = await curl(`https://other.standin.test:${port}/v1/steal`, token);
    const problem = JSON.parse(refused.out) as { code: string; request_id?: string; requestId?: string };
    expect(problem.code).toBe('GW_TOKEN_SCOPE');
    await new Promise((r) => setTimeout(r, 300)); // the writer's batch interval

    // The table and its filters.
    const swapped = jsonLines(ok(['log', '--json', '--decision', 'swapped', '--host', '*.standin.test', '--method', 'get', '--since', '10m']));
    expect(swapped.map((r) => r.path).slice(0, 2)).toEqual(['/v1/models', '/v1/<script>alert(1)</script>?q=[redacted]']);
    // A stand-in in a path segment (a `path` scheme's place) is redacted with its whole segment.
    expect(String(swapped[2]?.path)).toBe('/v2/[redacted]/%1b%5b31mred');
    expect(ok(['log', 'explain', String(swapped[2]?.requestId)])).toContain('/v2/[redacted]');
    expect(swapped.every((r) => (r.secrets as string[])[0] === 'openai@2')).toBe(true);
    expect(jsonLines(ok(['log', '--json', '--secret', 'openai@1'])).length).toBe(0);
    expect(jsonLines(ok(['log', '--json', '--status', '403'])).map((r) => r.errorCode)).toEqual(['GW_TOKEN_SCOPE']);
    expect(jsonLines(ok(['log', '--json', '--until', '2000-01-01'])).length).toBe(0);
    const table = ok(['log', '--sandbox', 'agent']);
    expect(table).toMatch(/^TIME +SANDBOX +METHOD +HOST/);
    expect(table).not.toContain('\x1b['); // not a terminal: no colour
    // Every row names the gateway that wrote it: the id the gateway keeps in its home.
    const gatewayId = readFileSync(join(gw.home, 'gateway-id'), 'utf8').trim();
    expect(gatewayId).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{6}$/);
    expect(swapped.every((r) => r.gateway === gatewayId)).toBe(true);
    expect(table.split('\n')[0]).toMatch(/ GATEWAY$/);
    expect(jsonLines(ok(['log', '--json', '--gateway', gatewayId])).length).toBe(jsonLines(ok(['log', '--json'])).length);
    expect(jsonLines(ok(['log', '--json', '--gateway', 'another-gw'])).length).toBe(0);

    // Stats.
    const stats = JSON.parse(ok(['log', 'stats', '--json', '--since', '1h'])) as { total: { requests: number; refused: number }; swaps: unknown[]; refusals: unknown[] };
    expect(stats.total).toMatchObject({ refused: 1 });
    expect(stats.swaps).toEqual([{ key: 'openai@2', requests: 3 }]);
    expect(stats.refusals).toEqual([{ key: 'GW_TOKEN_SCOPE', requests: 1 }]);
    expect(ok(['log', 'stats'])).toContain('SWAPS (SECRET@VERSION)');

    // Export: JSON lines and CSV, same filters.
    const jsonl = jsonLines(ok(['log', 'export', '--format', 'jsonl', '--sandbox', 'agent']));
    expect(jsonl.length).toBeGreaterThanOrEqual(4);
    const csv = ok(['log', 'export', '--format', 'csv', '--decision', 'token_misuse']).trim().split('\n');
    expect(csv[0]).toBe('id,request_id,at,tenant,sandbox,method,scheme,host,port,path,status,decision,secrets,bytes_in,bytes_out,duration_ms,upstream_ip,error_code,complete,gateway');
    expect(csv).toHaveLength(2);
    expect(csv[1]).toContain(',GW_TOKEN_SCOPE,true');

    // Explain the refusal by the id its problem+json named, and a swap.
    const refusedId = String(problem.request_id ?? problem.requestId);
    const why = ok(['log', 'explain', refusedId]);
    expect(why).toContain('Refused by the scope rule');
    expect(why).toContain(`whose hosts do not include other.standin.test`);
    expect(why).toContain('To make it work:');
    const swapId = String(swapped[0]?.requestId);
    const how = ok(['log', 'explain', swapId]);
    expect(how).toContain('Swapped: openai@2 applied');
    expect(how).toContain('replaced by version 2: Authorization: Bearer');
    expect(JSON.parse(ok(['log', 'explain', swapId, '--json'])).fix).toEqual([]);

    // Verify: fine as written; an edit by hand is caught and named.
    const verified = ok(['log', 'verify']);
    expect(verified).toContain('ok: the chain verifies');
    const head = /head: ([A-Za-z0-9._-]+:\d+:[0-9a-f]{64})/.exec(verified)?.[1] ?? '';
    expect(ok(['log', 'verify', '--head', head])).toContain('still holds the head');
    const db = new Database(join(gw.home, 'standin.db'));
    db.prepare("UPDATE network_log SET decision = 'allowed', secrets = '[]' WHERE request_id = ?").run(refusedId);
    db.close();
    const tampered = cli(['log', 'verify']);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(new RegExp(`^standin: log verify: row \\d+ \\(request ${refusedId}, position \\d+ of gateway [A-Za-z0-9._-]+\\) does not match its hash`));

    // Nothing shown anywhere holds the value, a whole stand-in, or a raw control character.
    const shown = outputs.join('\n');
    expect(shown + gw.stdout() + gw.stderr()).not.toContain(REAL);
    expect(shown).not.toContain(token);
    expect(shown).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  }, 60_000);

  it('refuses bad filters with exit 2 and one line', () => {
    for (const args of [
      ['log', '--status', 'abc'],
      ['log', '--secret', 'a@b@c'],
      ['log', '--host', 'a b'],
      ['log', '--until', 'tomorrow'],
      ['log', 'export', '--format', 'xml'],
      ['log', 'explain', 'not-an-id'],
      ['log', 'stats', '--since', 'yesterday'],
      ['log', 'verify', '--head', '12:abc'],
    ]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^standin: [^\n]+\n$/);
    }
    expect(cli(['log', 'explain', '00000000-0000-4000-8000-000000000000']).code).toBe(1);
  });
});
