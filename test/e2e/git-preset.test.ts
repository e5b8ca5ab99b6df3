import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHome, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// The GitHub preset (bearer,basic:x-access-token) with the real git client: whatever user git
// sends, the server gets `x-access-token:<value>`; the stand-in has GitHub's `ghp_` shape.
const REAL = 'ghp_REALpresetToken0123456789abcdefXYZ';
let upstream: Upstream;
let gw: ServeProcess;
let work: string;

function git(args: string[], cwd: string): void {
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.test', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'ignore' });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'standin-git-preset-'));
  const src = join(work, 'src');
  git(['init', '-q', src], work);
  writeFileSync(join(src, 'README'), 'preset clone\n');
  git(['add', 'README'], src);
  git(['commit', '-q', '-m', 'first'], src);
  git(['clone', '-q', '--bare', src, join(work, 'root', 'repo.git')], work);
  upstream = await startUpstream({ git: { root: join(work, 'root'), credential: `x-access-token:${REAL}` } });
  gw = await startServe(upstream.port, ['api.standin.test']);
  gw.cli(['secret', 'create', 'github', '--provider', 'github', '--hosts', `api.standin.test:${upstream.port}`, '--value-stdin'], REAL);
  gw.cli(['sandbox', 'create', 'ci', '--bind', 'GITHUB_TOKEN=github']);
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  if (gw) removeHome(gw.home);
  if (work) removeHome(work);
});

describe('GitHub preset with git over HTTPS', () => {
  it('clones with any Basic user; the server gets x-access-token and the real token', async () => {
    const sandboxEnv = gw.sandboxEnv('ci');
    expect(sandboxEnv.GITHUB_TOKEN).toMatch(/^ghp_standin_[A-Za-z0-9]{32}$/);
    const env = { ...process.env, ...sandboxEnv, GIT_TERMINAL_PROMPT: '0' };
    const dest = join(work, 'clone');
    const url = `https://octocat:${sandboxEnv.GITHUB_TOKEN}@api.standin.test:${upstream.port}/git/repo.git`;
    const r = await runClient('git', ['clone', '-q', url, dest], env);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(dest, 'README'), 'utf8')).toBe('preset clone\n');
    const authorised = upstream.received.filter((e) => e.headers.authorization !== undefined);
    expect(authorised.length).toBeGreaterThan(0);
    for (const e of authorised) expect(e.headers.authorization).toBe(`Basic ${Buffer.from(`x-access-token:${REAL}`).toString('base64')}`);
    const log = gw.cli(['log', '--json', '--sandbox', 'ci']).stdout;
    expect(log).toContain('"secrets":["github@1"]');
    expect(r.out + r.err + log + gw.stdout() + gw.stderr()).not.toContain(REAL);
  });
});
