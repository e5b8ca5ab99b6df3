import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeApis, type FakeApis } from '../helpers/fake-apis.js';
import { CLI, removeHome, runClient, startServe, type ServeProcess, databaseText } from '../helpers/serve.js';

// The official SDKs, unmodified apart from their base URL, run with nothing but `standin run`'s
// environment (no proxy or CA configuration of their own) against local fakes of each API: the
// real value must arrive upstream, never in the client's output, and the log names the secret.
const CLIENTS = join(import.meta.dirname, 'sdk-clients');
const REAL = {
  openai: 'sk-proj-REAL-openai-value-7Hq2Lm9Xc4Vb1Nz8',
  anthropic: 'sk-ant-api03-REAL-anthropic-value-Qw3Er5Ty7',
  github: 'ghp_REALgithubValue0123456789abcdefABCD',
  stripe: 'sk_live_REAL_stripe_value_51HxYzAbCdEf',
};
const HOSTS = { openai: 'openai.standin.test', anthropic: 'anthropic.standin.test', github: 'github.standin.test', stripe: 'stripe.standin.test' };
let apis: FakeApis;
let gw: ServeProcess;

beforeAll(async () => {
  apis = await startFakeApis();
  gw = await startServe(apis.port, Object.values(HOSTS), ['--log-level', 'debug']);
  for (const [provider, value] of Object.entries(REAL)) {
    // The provider's preset (scheme, token shape), scoped to the local fake instead of the real host.
    const host = `${HOSTS[provider as keyof typeof HOSTS]}:${apis.port}`;
    const r = gw.cli(['secret', 'create', provider, '--provider', provider, '--hosts', host, '--value-stdin'], value);
    expect(r.code, r.stderr).toBe(0);
  }
  const binds = ['OPENAI_API_KEY=openai', 'ANTHROPIC_API_KEY=anthropic', 'GITHUB_TOKEN=github', 'STRIPE_SECRET_KEY=stripe'].flatMap((b) => ['--bind', b]);
  const sb = gw.cli(['sandbox', 'create', 'sdk', ...binds]);
  expect(sb.code, sb.stderr).toBe(0);
});

afterAll(async () => {
  await gw?.stop();
  await apis?.close();
  if (gw) removeHome(gw.home);
});

/** `standin run sdk -- CMD...` with a bare environment: what the SDK sees is what `run` gives. */
function standinRun(cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  return runClient(process.execPath, [CLI, 'run', 'sdk', '--', ...cmd], { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', STANDIN_HOME: gw.home }, 60_000);
}

function pythonWith(modules: string): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-c', `import ${modules}`]).status === 0) return py;
  }
  return undefined;
}

interface SdkCase {
  name: string;
  provider: keyof typeof REAL;
  cmd: () => string[] | undefined;
  expectOut: string;
  /** The header and value the fake API must have received. */
  upstream: [string, string];
}

// STANDIN_PRELOAD_NODE=/path/to/node runs the Node SDKs on another Node (by hand: CI has Node 20).
const NODE = process.env.STANDIN_PRELOAD_NODE ?? process.execPath;
const node = (script: string): (() => string[]) => () => [NODE, join(CLIENTS, script)];
const python = (script: string): (() => string[] | undefined) => () => {
  const py = pythonWith('openai, anthropic');
  return py === undefined ? undefined : [py, join(CLIENTS, script)];
};

const CASES: SdkCase[] = [
  { name: 'openai (Node)', provider: 'openai', cmd: node('openai.mjs'), expectOut: 'openai: hello from the fake OpenAI', upstream: ['authorization', `Bearer ${REAL.openai}`] },
  // @anthropic-ai/sdk sends the API key as Authorization: Bearer (client.ts apiKeyAuth).
  { name: '@anthropic-ai/sdk (Node)', provider: 'anthropic', cmd: node('anthropic.mjs'), expectOut: 'anthropic: hello from the fake Anthropic', upstream: ['authorization', `Bearer ${REAL.anthropic}`] },
  // Octokit sends `token <t>` for non-JWT tokens (@octokit/auth-token withAuthorizationPrefix).
  { name: '@octokit/rest (Node)', provider: 'github', cmd: node('octokit.mjs'), expectOut: 'octokit: fake-octocat', upstream: ['authorization', `token ${REAL.github}`] },
  // stripe-node: node:https with its own keep-alive Agent, Authorization: Bearer.
  { name: 'stripe (Node)', provider: 'stripe', cmd: node('stripe.mjs'), expectOut: 'stripe: cus_test', upstream: ['authorization', `Bearer ${REAL.stripe}`] },
  { name: 'openai (Python)', provider: 'openai', cmd: python('openai_sdk.py'), expectOut: 'openai-python: hello from the fake OpenAI', upstream: ['authorization', `Bearer ${REAL.openai}`] },
  // The Python SDK sends x-api-key, the Node SDK Bearer: the preset takes both.
  { name: 'anthropic (Python)', provider: 'anthropic', cmd: python('anthropic_sdk.py'), expectOut: 'anthropic-python: hello from the fake Anthropic', upstream: ['x-api-key', REAL.anthropic] },
];

describe('official SDKs with only `standin run`', () => {
  for (const c of CASES) {
    it(`${c.name}: the call succeeds, the real value arrives upstream, the client never sees it`, async () => {
      const cmd = c.cmd();
      // Never a silent skip: .ci/run installs the Python SDKs.
      expect(cmd, `${c.name} is not installed (pip install openai anthropic)`).toBeDefined();
      if (cmd === undefined) return;
      const before = apis.calls.length;
      const r = await standinRun([...cmd, `https://${HOSTS[c.provider]}:${apis.port}`]);
      expect(r.code, r.err + r.out).toBe(0);
      expect(r.out).toContain(c.expectOut);
      for (const value of Object.values(REAL)) expect(r.out + r.err).not.toContain(value);
      const arrived = apis.calls.slice(before);
      expect(arrived.length).toBeGreaterThanOrEqual(1);
      const last = arrived.at(-1);
      expect(last?.servername).toBe(HOSTS[c.provider]);
      expect(last?.headers[c.upstream[0]]).toBe(c.upstream[1]);
    });
  }

  it('every call has a swapped log row naming its secret; no value in any log or output', async () => {
    const log = gw.cli(['log', '--json', '--sandbox', 'sdk']);
    expect(log.code, log.stderr).toBe(0);
    const rows = log.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { decision: string; secrets: string[]; host: string });
    for (const provider of Object.keys(REAL)) {
      const named = rows.filter((r) => r.decision === 'swapped' && r.secrets.includes(`${provider}@1`));
      expect(named.length, `no swapped row for ${provider}`).toBeGreaterThanOrEqual(provider === 'openai' || provider === 'anthropic' ? 2 : 1);
      for (const r of named) expect(r.host).toBe(HOSTS[provider as keyof typeof HOSTS]);
    }
    expect(await gw.stop()).toBe(0);
    const db = databaseText(gw.home);
    for (const value of Object.values(REAL)) {
      for (const text of [gw.stdout(), gw.stderr(), log.stdout, db]) expect(text).not.toContain(value);
    }
  });
});
