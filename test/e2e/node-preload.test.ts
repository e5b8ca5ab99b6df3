import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mergeNodeOptions, NODE_PRELOAD_FILE, sandboxEnv } from '../../src/sandbox-env/env.js';
import { startRecordingProxy, type RecordingProxy } from '../helpers/recording-proxy.js';
import { CLI, removeHome, ROOT, runClient, standin } from '../helpers/serve.js';
import { startUpstream, TEST_CA, type Upstream } from '../helpers/upstream.js';

// The Node preload (dist/sandbox-env/node-preload.cjs) on this machine's Node, with programs that
// know nothing of proxies: every library reaches a recording proxy, NO_PROXY is honoured, a
// program's own dispatcher or agent is left alone, refusals are reported in plain words.
// STANDIN_PRELOAD_NODE=/path/to/node runs the probes on another Node (by hand: CI has Node 20 only).
const NODE = process.env.STANDIN_PRELOAD_NODE ?? process.execPath;
const NO_NATIVE = process.env.STANDIN_PRELOAD_NO_NATIVE === '1';
// Node 22.21+/24 honour NODE_USE_ENV_PROXY themselves: fetch is then Node's own EnvHttpProxyAgent,
// which tunnels http:// too and words refusals its own way (see README); those cases are ours only.
const NATIVE_FETCH = !NO_NATIVE && spawnSync(NODE, ['-p', "process.allowedNodeEnvironmentFlags.has('--use-env-proxy')"], { encoding: 'utf8' }).stdout.trim() === 'true';
const PROBE = join(ROOT, 'test', 'e2e', 'clients', 'node_preload_probe.mjs');
// Base62, as the store makes them (axios would not percent-decode other characters).
const PROXY_KEY = 'Kx7pQ2mN9vR4tY6wZ1aB3cD5eF8gH0jL';
let upstream: Upstream;
let plain: Server;
let plainPort = 0;
let proxy: RecordingProxy;
let dir: string;
let baseEnv: Record<string, string>;

beforeAll(async () => {
  upstream = await startUpstream();
  plain = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ plain: true, url: req.url, host: req.headers.host }));
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  plainPort = (plain.address() as { port: number }).port;
  proxy = await startRecordingProxy(upstream.port, plainPort);
  // A directory with a space and a quote: NODE_OPTIONS must quote the path.
  dir = mkdtempSync(join(tmpdir(), 'standin preload "q" '));
  mkdirSync(join(dir, 'ca'));
  copyFileSync(join(ROOT, 'dist', 'sandbox-env', 'node-preload.cjs'), join(dir, 'ca', NODE_PRELOAD_FILE));
  copyFileSync(TEST_CA, join(dir, 'ca', 'bundle.pem'));
  baseEnv = sandboxEnv({ sandbox: 'sb', proxyKey: PROXY_KEY, bindings: [], proxy: `127.0.0.1:${proxy.port}`, caBundle: join(dir, 'ca', 'bundle.pem') });
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
  plain?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  proxy.seen.length = 0;
});

const SANDBOX_AUTH = `Basic ${Buffer.from(`sb:${PROXY_KEY}`).toString('base64')}`;

function probe(library: string, url: string, extra: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  // Only PATH and HOME from this process: no proxy or Node variables of the test runner leak in.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...baseEnv, ...extra };
  if (NO_NATIVE) delete env.NODE_USE_ENV_PROXY;
  return runClient(NODE, [PROBE, library, url], env, 20_000);
}

describe('the Node preload (NODE_OPTIONS from sandbox env)', () => {
  it('init writes it next to the CA bundle, as the package exports it; sandbox env names it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'standin-preload-'));
    try {
      expect(standin(home, ['init']).stdout).toContain(`wrote Node proxy preload ${join(home, 'ca', NODE_PRELOAD_FILE)}`);
      const written = readFileSync(join(home, 'ca', NODE_PRELOAD_FILE), 'utf8');
      const pkg = (await import(join(ROOT, 'dist', 'index.js'))) as { nodePreloadSource(): string; NODE_PRELOAD_FILE: string };
      expect(pkg.NODE_PRELOAD_FILE).toBe(NODE_PRELOAD_FILE);
      expect(written).toBe(pkg.nodePreloadSource());
      expect(written).not.toContain('sourceMappingURL');
      // Self-contained: nothing but Node's built-in modules.
      expect([...written.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['node:http', 'node:https', 'node:net', 'node:tls']);
      expect(statSync(join(home, 'ca', NODE_PRELOAD_FILE)).mode & 0o777).toBe(0o644);
      expect(standin(home, ['init']).stdout).toContain('nothing changed');
      expect(standin(home, ['sandbox', 'create', 'p']).code).toBe(0);
      const env = JSON.parse(standin(home, ['sandbox', 'env', 'p', '--format', 'json']).stdout) as Record<string, string>;
      expect(env.NODE_OPTIONS).toBe(`--require=${join(home, 'ca', NODE_PRELOAD_FILE)}`);
      expect(env.NODE_USE_ENV_PROXY).toBe('1');
      // `run` keeps the caller's NODE_OPTIONS, after the preload.
      const script = "console.log(globalThis[Symbol.for('standin.nodeProxy')] === true, process.title)";
      const ran = standin(home, ['run', 'p', '--', process.execPath, '-e', script], undefined, { NODE_OPTIONS: '--title=sandboxed-app' });
      expect(ran.stdout.trim(), ran.stderr).toBe('true sandboxed-app');
      // A home made before the preload existed gets it from `serve`, which the control API's env names.
      rmSync(join(home, 'ca', NODE_PRELOAD_FILE));
      const serve = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--no-control'], { env: { ...process.env, STANDIN_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
      await new Promise<void>((resolve, reject) => {
        serve.stdout.on('data', (c: Buffer) => c.toString().includes('listening') && resolve());
        serve.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
      const exited = new Promise((resolve) => serve.once('exit', resolve));
      serve.kill('SIGTERM');
      await exited;
      expect(readFileSync(join(home, 'ca', NODE_PRELOAD_FILE), 'utf8')).toBe(written);
    } finally {
      removeHome(home);
    }
  });

  it('quotes a preload path with spaces, and keeps NODE_OPTIONS the program already had', async () => {
    expect(baseEnv.NODE_OPTIONS).toBe(`--require="${join(dir, 'ca', NODE_PRELOAD_FILE).replace(/"/g, '\\"')}"`);
    expect(baseEnv.NODE_USE_ENV_PROXY).toBe('1');
    const merged = mergeNodeOptions(baseEnv.NODE_OPTIONS!, '--title=sandboxed-app');
    expect(mergeNodeOptions(baseEnv.NODE_OPTIONS!, merged)).toBe(merged);
    const script = "console.log(globalThis[Symbol.for('standin.nodeProxy')] === true, process.title)";
    const r = await runClient(NODE, ['-e', script], { PATH: process.env.PATH ?? '', ...baseEnv, NODE_OPTIONS: merged });
    expect(r.err).not.toContain('standin');
    expect(r.out.trim()).toBe('true sandboxed-app');
  });

  for (const library of ['fetch', 'node:https', 'node:https own Agent', 'axios', 'got', 'node-fetch', 'undici fetch', 'undici request']) {
    it(`${library}: https goes through a CONNECT tunnel with the sandbox's proxy credential`, async () => {
      const r = await probe(library, `https://api.standin.test:${upstream.port}/echo?via=${encodeURIComponent(library)}`);
      expect(r.out, r.err).toContain('STATUS 200');
      expect(r.err).not.toContain('standin');
      expect(r.out).toContain('"servername":"api.standin.test"');
      expect(proxy.seen).toEqual([expect.objectContaining({ method: 'CONNECT', target: `api.standin.test:${upstream.port}`, authorization: SANDBOX_AUTH })]);
    });
  }

  for (const library of ['fetch', 'node:http', 'axios', 'got', 'node-fetch', 'undici fetch', 'undici request']) {
    it.skipIf(NATIVE_FETCH && (library === 'fetch' || library.startsWith('undici')))(`${library}: http goes to the proxy in absolute form`, async () => {
      const r = await probe(library, `http://plain.standin.test:${plainPort}/p?x=1`);
      expect(r.out, r.err).toContain('STATUS 200');
      expect(r.out).toContain(`"host":"plain.standin.test:${plainPort}"`);
      expect(proxy.seen).toEqual([expect.objectContaining({ method: 'GET', target: `http://plain.standin.test:${plainPort}/p?x=1`, authorization: SANDBOX_AUTH })]);
    });
  }

  for (const library of ['fetch', 'node:https', 'node:http']) {
    it(`${library}: NO_PROXY hosts go direct`, async () => {
      const local = await probe(library === 'node:https' ? 'node:http' : library, `http://127.0.0.1:${plainPort}/direct`, { NO_PROXY: 'example.test, 127.0.0.1', no_proxy: 'example.test, 127.0.0.1' });
      expect(local.out, local.err).toContain('STATUS 200');
      const suffix = await probe(library === 'node:http' ? 'node:https' : library, `https://api.standin.test:${upstream.port}/echo`, { NO_PROXY: '*.standin.test', no_proxy: '*.standin.test' });
      // Direct means real DNS, where *.standin.test does not exist.
      expect(suffix.out).toMatch(/ERROR (ENOTFOUND|EAI_AGAIN)/);
      expect(proxy.seen).toEqual([]);
    });
  }

  for (const library of ['fetch', 'node:https']) {
    it(`${library}: inside the tunnel the certificate is checked against the target, IP literals too`, async () => {
      // The test certificate names 127.0.0.1 and localhost, not 127.0.0.2.
      const good = await probe(library, `https://127.0.0.1:${upstream.port}/echo`);
      expect(good.out, good.err).toContain('STATUS 200');
      const bad = await probe(library, `https://127.0.0.2:${upstream.port}/echo`);
      expect(bad.out).toContain('ERROR ERR_TLS_CERT_ALTNAME_INVALID');
      expect(proxy.seen.map((s) => s.target)).toEqual([`127.0.0.1:${upstream.port}`, `127.0.0.2:${upstream.port}`]);
    });
  }

  it('NO_PROXY entries match by port and by domain suffix only', async () => {
    // An entry for another port, or another domain, does not exempt this host; host:port does.
    const r = await probe('fetch', `https://api.standin.test:${upstream.port}/echo`, { NO_PROXY: `api.standin.test:1,.other.test`, no_proxy: `api.standin.test:1,.other.test` });
    expect(r.out, r.err).toContain('STATUS 200');
    const exact = await probe('node:http', `http://127.0.0.1:${plainPort}/direct`, { NO_PROXY: `127.0.0.1:${plainPort}`, no_proxy: `127.0.0.1:${plainPort}` });
    expect(exact.out, exact.err).toContain('STATUS 200');
    expect(proxy.seen.map((s) => s.method)).toEqual(['CONNECT']);
  });

  for (const library of ['fetch', 'node:https']) {
    it.skipIf(NATIVE_FETCH && library === 'fetch')(`${library}: a refused tunnel fails at once, saying so, without the proxy credential`, async () => {
      const r = await probe(library, 'https://refused.standin.test/');
      expect(r.code).toBe(1);
      // Node 22.21+/24 with NODE_USE_ENV_PROXY proxy https.globalAgent themselves, with their own words.
      expect(r.out).toMatch(/refused CONNECT refused\.standin\.test:443: 403 Forbidden \(GW_EGRESS_DENIED\)|Failed to establish tunnel to refused\.standin\.test:443 .*403 Forbidden/);
      expect(r.out + r.err).not.toContain(PROXY_KEY);
      expect(r.out + r.err).not.toContain(SANDBOX_AUTH.slice(6));
    });
  }

  it.skipIf(NATIVE_FETCH)('a proxy that is not there is reported as such', async () => {
    const r = await probe('fetch', 'https://api.standin.test/', { HTTPS_PROXY: 'http://sb:x@127.0.0.1:9', https_proxy: 'http://sb:x@127.0.0.1:9' });
    expect(r.out).toContain('ERROR ECONNREFUSED standin: cannot reach the proxy at 127.0.0.1:9 for api.standin.test:443');
  });

  it("a program's own global dispatcher is not overridden", async () => {
    const r = await probe('undici own dispatcher', `https://api.standin.test:${upstream.port}/echo`);
    expect(r.out).toMatch(/ERROR (ENOTFOUND|EAI_AGAIN)/);
    expect(proxy.seen).toEqual([]);
  });

  it("a program's own proxy agent is used as given (one tunnel, its own credential)", async () => {
    const r = await probe('hpagent own agent', `https://api.standin.test:${upstream.port}/echo`, { OWN_PROXY: `http://own:pw@127.0.0.1:${proxy.port}` });
    expect(r.out, r.err).toContain('STATUS 200');
    expect(proxy.seen).toEqual([expect.objectContaining({ method: 'CONNECT', authorization: `Basic ${Buffer.from('own:pw').toString('base64')}` })]);
  });
});
