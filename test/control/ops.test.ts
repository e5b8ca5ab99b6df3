import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, removeHome, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { call, controlOf, freePort } from './http.js';

// Operations: `serve --config FILE`, Prometheus metrics, readiness, graceful stop.
let dir: string;
let upstream: Upstream;
let gw: ServeProcess;
let controlPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'standin-ops-'));
  upstream = await startUpstream();
  controlPort = await freePort();
  const config = join(dir, 'ok.json');
  writeFileSync(config, JSON.stringify({ control: `127.0.0.1:${controlPort}`, logLevel: 'debug', listen: '127.0.0.1:1' }));
  // --listen (given by startServe) and --log-level override the file; control comes from the file.
  gw = await startServe(upstream.port, ['api.standin.test'], ['--config', config, '--log-level', 'warn']);
});

afterAll(async () => {
  await gw?.stop();
  if (gw !== undefined) removeHome(gw.home);
  await upstream?.close();
  removeHome(dir);
});

describe('serve --config', () => {
  it('takes settings from the file, flags winning', () => {
    expect(controlOf(gw.home)).toEqual({ host: '127.0.0.1', port: controlPort });
    expect(gw.proxy).not.toBe('127.0.0.1:1');
    expect(gw.stderr()).not.toContain('"level":20');
  });

  it('reports every problem of the file and the flags at once, exit 2', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ listen: 8877, contrl: 'x', allowDest: ['nonsense'], control: 'tcp://nowhere' }));
    const r = spawnSync(process.execPath, [CLI, 'serve', '--config', bad, '--log-level', 'loud'], { env: { ...process.env, STANDIN_HOME: join(dir, 'home') }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/^standin: /);
    expect(r.stderr).toMatch(/'listen' must be a string/);
    expect(r.stderr).toMatch(/unknown key 'contrl'/);
    expect(r.stderr).toMatch(/--allow-dest/);
    expect(r.stderr).toMatch(/invalid --control/);
    expect(r.stderr).toMatch(/--log-level/);
    const missing = spawnSync(process.execPath, [CLI, 'serve', '--config', join(dir, 'none.json')], { env: { ...process.env, STANDIN_HOME: join(dir, 'home') }, encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --config .*ENOENT/);
  });
});

describe('metrics and health on the control listener', () => {
  it('counts requests, refusals by reason and latency', async () => {
    const key = gw.cli(['apikey', 'create', 'prom', '--role', 'auditor']).stdout.trim();
    const target = { host: '127.0.0.1', port: controlPort };
    // One refused CONNECT (no proxy credentials).
    const [host, port] = gw.proxy.split(':');
    await new Promise<void>((resolve) => {
      const s = connect(Number(port), host, () => s.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'));
      s.on('data', () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => resolve());
    });
    const m = await call(target, 'GET', '/metrics', { headers: { authorization: `Bearer ${key}` } });
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.text).toMatch(/^standin_requests_total\{decision="denied",kind="tunnel"\} 1$/m);
    expect(m.text).toMatch(/^standin_refusals_total\{reason="GW_PROXY_AUTH"\} 1$/m);
    expect(m.text).toMatch(/^standin_request_duration_seconds_count 1$/m);
    expect(m.text).toMatch(/^standin_netlog_queue_depth \d+$/m);
    expect(m.text).toMatch(/^# TYPE standin_request_duration_seconds histogram$/m);
    expect((await call(target, 'GET', '/readyz')).json()).toMatchObject({ status: 'ready' });
  });
});
