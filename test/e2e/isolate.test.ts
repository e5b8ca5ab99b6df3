import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// `standin run --isolate`: a real network namespace (Linux, root, iproute2 + util-linux's setpriv).
const has = (cmd: string, arg: string): boolean => spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0;
const supported = process.platform === 'linux' && process.getuid?.() === 0 && has('ip', '-V') && has('setpriv', '--version') && has('curl', '--version');

const REAL = 'real-isolate-credential-5tGh2K';
let upstream: Upstream;
let gw: ServeProcess;
let direct: Server;
let directPort = 0;
let hostIp = '127.0.0.1';

const namespaces = (): string[] => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('standin-'));
const isolateDirs = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith('standin-isolate-'));

beforeAll(async () => {
  if (!supported) return;
  upstream = await startUpstream();
  gw = await startServe(upstream.port, ['api.standin.test'], ['--log-level', 'warn']);
  expect(gw.cli(['secret', 'create', 'svc', '--hosts', `api.standin.test:${upstream.port}`, '--value-stdin'], REAL).code).toBe(0);
  expect(gw.cli(['sandbox', 'create', 'iso', '--bind', 'TOKEN=svc']).code).toBe(0);
  // A TCP service on every host address: reachable from the host, not from the namespace.
  direct = createServer((s) => {
    s.on('error', () => undefined);
    s.end('hello\n');
  });
  await new Promise<void>((resolve) => direct.listen(0, '0.0.0.0', resolve));
  directPort = (direct.address() as { port: number }).port;
  hostIp = Object.values(networkInterfaces()).flat().find((i) => i?.family === 'IPv4' && !i.internal)?.address ?? '127.0.0.1';
});

afterAll(async () => {
  if (!supported) return;
  direct?.close();
  await gw?.stop();
  if (gw !== undefined) removeHome(gw.home);
  await upstream?.close();
});

function runIsolated(script: string): Promise<{ code: number; out: string; err: string }> {
  return runClient(process.execPath, [CLI, 'run', 'iso', '--isolate', '--', 'sh', '-c', script], { ...process.env, STANDIN_HOME: gw.home });
}

describe.skipIf(!supported)('standin run --isolate', () => {
  it('lets proxied traffic through and nothing else; cleans up the namespace', async () => {
    const nsBefore = namespaces();
    const dirsBefore = isolateDirs();
    const node = process.execPath;
    const script = [
      // A client that ignores the proxy, to the upstream's real address and port.
      `curl -sS -m 5 -k --noproxy '*' https://127.0.0.1:${upstream.port}/echo >/dev/null 2>&1 && echo DIRECT_LOOPBACK_OK || echo DIRECT_LOOPBACK_FAIL`,
      // A raw TCP connect to an address of the host, where a service does listen.
      `${node} -e "require('net').connect(${directPort}, '${hostIp}').on('connect', () => console.log('DIRECT_IP_OK')).on('error', (e) => console.log('DIRECT_IP_FAIL ' + e.code))"`,
      // Through the gateway, as the environment says: works, token swapped.
      `curl -sS -m 10 --fail -o /dev/null -w 'PROXIED %{http_code}\\n' -H "Authorization: Bearer $TOKEN" "https://api.standin.test:${upstream.port}/echo?isolated=1"`,
      'exit 3',
    ].join('\n');
    // Sanity: the service really is reachable from outside the namespace.
    const outside = await runClient(node, ['-e', `require('net').connect(${directPort}, '${hostIp}').on('connect', () => { console.log('OK'); process.exit(0) }).on('error', () => process.exit(1))`], process.env);
    expect(outside.out.trim()).toBe('OK');

    const r = await runIsolated(script);
    expect(r.code, r.err).toBe(3);
    expect(r.out).toContain('DIRECT_LOOPBACK_FAIL');
    expect(r.out).toMatch(/DIRECT_IP_FAIL (ENETUNREACH|ECONNREFUSED|EHOSTUNREACH)/);
    expect(r.out).toContain('PROXIED 200');
    expect(upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${REAL}`);
    expect(r.out + r.err).not.toContain(REAL);

    const log = gw.cli(['log', '--json', '--sandbox', 'iso']);
    const rows = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { path: string; decision: string; status: number });
    // Query values are redacted in the log.
    expect(rows).toContainEqual(expect.objectContaining({ path: '/echo?isolated=[redacted]', decision: 'swapped', status: 200 }));

    expect(namespaces()).toEqual(nsBefore);
    expect(isolateDirs()).toEqual(dirsBefore);
  });

  it('Node programs go through the gateway by the preload; one that bypasses it fails at once, saying why', async () => {
    const node = process.execPath;
    const target = `https://api.standin.test:${upstream.port}/echo?node=1`;
    // What an app does: fetch with its key, no proxy configuration of its own.
    const viaEnv = `fetch('${target}', { headers: { authorization: 'Bearer ' + process.env.TOKEN } }).then(async (r) => console.log('NODE_FETCH', r.status, (await r.json()).headers.authorization === 'Bearer ' + process.env.TOKEN)).catch((e) => console.log('NODE_FETCH_FAIL', e.cause?.code))`;
    // The same program with the preload removed (NODE_OPTIONS cleared), to the host's own address:
    // there is no route, so it fails at once instead of hanging; timed to show it.
    const bypass = `const t = Date.now(); fetch('https://${hostIp}:${directPort}/').then(() => console.log('BYPASS_OK')).catch((e) => console.log('BYPASS_FAIL', e.cause?.code, e.cause?.message, Date.now() - t))`;
    // And by name: no resolver is reachable from the namespace either, so that fails at once too.
    const byName = `const t = Date.now(); fetch('${target}').then(() => console.log('BYNAME_OK')).catch((e) => console.log('BYNAME_FAIL', e.cause?.code, Date.now() - t))`;
    const script = [`${node} -e "${viaEnv}"`, `NODE_OPTIONS= ${node} -e "${bypass}"`, `NODE_OPTIONS= ${node} -e "${byName}"`].join('\n');
    for (const user of [undefined, '65534']) {
      const args = [CLI, 'run', 'iso', '--isolate', ...(user === undefined ? [] : ['--user', user]), '--', 'sh', '-c', script];
      const r = await runClient(process.execPath, args, { ...process.env, STANDIN_HOME: gw.home });
      expect(r.code, r.err).toBe(0);
      // The stand-in went out, the upstream saw the real value (the echo is scrubbed back to the stand-in).
      expect(r.out, r.err).toContain('NODE_FETCH 200 true');
      expect(upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${REAL}`);
      const m = /BYPASS_FAIL (\w+) (.*) (\d+)$/m.exec(r.out);
      expect(m, r.out).not.toBeNull();
      expect(m?.[1]).toMatch(/^(ENETUNREACH|EHOSTUNREACH|ECONNREFUSED)$/);
      expect(m?.[2]).toContain(hostIp);
      expect(Number(m?.[3])).toBeLessThan(2_000);
      const n = /BYNAME_FAIL (\w+) (\d+)$/m.exec(r.out);
      expect(n, r.out).not.toBeNull();
      expect(n?.[1]).toMatch(/^(EAI_AGAIN|ENOTFOUND)$/);
      expect(Number(n?.[2])).toBeLessThan(2_000);
      expect(r.out + r.err).not.toContain(REAL);
    }
  });

  it('passes signals to the command and still cleans up', async () => {
    const nsBefore = namespaces();
    const child = spawn(process.execPath, [CLI, 'run', 'iso', '--isolate', '--', 'sh', '-c', 'trap "exit 42" TERM; echo started; while :; do sleep 0.1; done'], { env: { ...process.env, STANDIN_HOME: gw.home }, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => c.toString().includes('started') && resolve()));
    expect(namespaces().length).toBe(nsBefore.length + 1);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(42);
    expect(namespaces()).toEqual(nsBefore);
  });

  it('refuses --user without --isolate, and a bad --user, with exit 2', () => {
    expect(gw.cli(['run', 'iso', '--user', 'nobody', '--', 'true']).code).toBe(2);
    expect(gw.cli(['run', 'iso', '--isolate', '--user', 'bad user', '--', 'true']).code).toBe(2);
  });
});
