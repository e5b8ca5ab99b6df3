import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const REAL = 'ghp_REALgithubTokenValue0123456789abcdef';
let upstream: Upstream;
let gw: ServeProcess;
let work: string;

function git(args: string[], cwd: string): void {
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.test', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'ignore' });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'standin-git-'));
  const src = join(work, 'src');
  git(['init', '-q', src], work);
  writeFileSync(join(src, 'README'), 'hello through standin\n');
  git(['add', 'README'], src);
  git(['commit', '-q', '-m', 'first'], src);
  git(['clone', '-q', '--bare', src, join(work, 'root', 'repo.git')], work);
  upstream = await startUpstream({ git: { root: join(work, 'root'), credential: `x-access-token:${REAL}` } });
  gw = await startServe(upstream.port, ['api.standin.test']);
  gw.cli(['secret', 'create', 'github', '--hosts', `api.standin.test:${upstream.port}`, '--scheme', 'basic', '--value-stdin'], REAL);
  gw.cli(['sandbox', 'create', 'ci', '--bind', 'GITHUB_TOKEN=github']);
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  if (gw) removeHome(gw.home);
  if (work) removeHome(work);
});

describe('git over HTTPS through the gateway', () => {
  it('clones with a stand-in token in Basic credentials; the server gets the real one', async () => {
    const sandboxEnv = gw.sandboxEnv('ci');
    const env = { ...process.env, ...sandboxEnv, GIT_TERMINAL_PROMPT: '0' };
    const dest = join(work, 'clone');
    const url = `https://x-access-token:${sandboxEnv.GITHUB_TOKEN}@api.standin.test:${upstream.port}/git/repo.git`;
    const r = await runClient('git', ['clone', '-q', url, dest], env);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(dest, 'README'), 'utf8')).toBe('hello through standin\n');
    const authorised = upstream.received.filter((e) => e.headers.authorization !== undefined);
    expect(authorised.length).toBeGreaterThan(0);
    for (const e of authorised) expect(e.headers.authorization).toBe(`Basic ${Buffer.from(`x-access-token:${REAL}`).toString('base64')}`);
    const config = readFileSync(join(dest, '.git', 'config'), 'utf8');
    expect(config + r.out + r.err + readdirSync(dest).join()).not.toContain(REAL);
    const log = gw.cli(['log', '--json', '--sandbox', 'ci']).stdout;
    expect(log).toContain('"decision":"swapped"');
    expect(log).not.toContain(REAL);
  });
});
