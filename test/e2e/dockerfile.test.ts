import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../control/http.js';
import { removeHome, ROOT } from '../helpers/serve.js';

// No Docker engine in CI: run the image's ENTRYPOINT + CMD and its HEALTHCHECK as they are written,
// against the dist/ the test run already built, with the two ports moved to free ones.
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
const instruction = (name: string): string[] => dockerfile.split('\n').filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());
const home = mkdtempSync(join(tmpdir(), 'standin-docker-'));

afterAll(() => removeHome(home));

describe('Dockerfile', () => {
  it('runs as a non-root user with the state directory as a volume and both ports exposed', () => {
    expect(instruction('USER').at(-1)).toBe('node');
    expect(instruction('VOLUME').at(-1)).toBe('["/data"]');
    expect(instruction('EXPOSE').at(-1)?.split(/\s+/).sort()).toEqual(['8877', '8878']);
    expect(instruction('FROM').length).toBeGreaterThanOrEqual(2);
  });

  it('starts with its CMD and passes its HEALTHCHECK', async () => {
    const [proxyPort, controlPort] = [await freePort(), await freePort()];
    const ports = (s: string): string => s.replaceAll('8877', String(proxyPort)).replaceAll('8878', String(controlPort)).replaceAll('/app/dist', join(ROOT, 'dist'));
    const entrypoint = JSON.parse(ports(instruction('ENTRYPOINT').at(-1) ?? '[]')) as string[];
    const cmd = JSON.parse(ports(instruction('CMD').at(-1) ?? '[]')) as string[];
    expect(entrypoint[0]).toBe('node');
    const child = spawn(process.execPath, [...entrypoint.slice(1), ...cmd], { env: { ...process.env, STANDIN_HOME: home, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('standin listening on')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
      const health = /CMD (.*)$/.exec(instruction('HEALTHCHECK').at(-1) ?? '')?.[1] ?? '';
      expect(health).toContain('/healthz');
      const r = spawnSync('sh', ['-c', ports(health)], { encoding: 'utf8', timeout: 10_000 });
      expect(r.status, r.stderr).toBe(0);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
