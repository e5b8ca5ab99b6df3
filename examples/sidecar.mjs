#!/usr/bin/env node
// A sandbox runtime's sidecar, written only against the standin SDK:
//   1. store a credential (once),  2. create a sandbox bound to it,
//   3. start a process with the sandbox's environment,  4. read that process's requests back.
//
// Run it next to a gateway (`standin serve`), after `npm run build`:
//   ANTHROPIC_API_KEY=sk-ant-... node examples/sidecar.mjs
// It talks to the control socket in $STANDIN_HOME (or $STANDIN_CONTROL + $STANDIN_API_KEY on TCP).
// EXAMPLE_URL / EXAMPLE_HOSTS point it at another API (the tests use a local upstream).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createClient } from 'standin';

const standin = createClient();
const url = process.env.EXAMPLE_URL ?? 'https://api.anthropic.com/v1/models';
const hosts = process.env.EXAMPLE_HOSTS?.split(',');
const value = process.env.ANTHROPIC_API_KEY;
if (!value) {
  console.error('set ANTHROPIC_API_KEY (the real key: the sandbox will never see it)');
  process.exit(2);
}
const secret = `anthropic-${randomBytes(3).toString('hex')}`;
const sandbox = `job-${randomBytes(3).toString('hex')}`;

// 1. The real value goes in once; no call ever returns it.
await standin.secrets.create({ name: secret, value, provider: 'anthropic', ...(hosts ? { hosts } : {}) });

// 2. The sandbox and the environment to start it with: stand-in token, proxy, CA trust.
const { env } = await standin.sandboxes.create({ name: sandbox, secrets: { ANTHROPIC_API_KEY: secret } });
console.log(`sandbox ${sandbox}: ANTHROPIC_API_KEY=${env.ANTHROPIC_API_KEY}`);

try {
  // 3. The sandboxed process: it only ever holds the stand-in token.
  const code = await new Promise((resolve) => {
    const child = spawn('sh', ['-c', 'curl -sS -o /dev/null -w "%{http_code}\\n" -H "x-api-key: $ANTHROPIC_API_KEY" -H "anthropic-version: 2023-06-01" "$1"', 'sh', url], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  console.log(`process exited ${code}`);

  // 4. What it did, from the network log (written in batches: wait for the row).
  const rows = await standin.log.waitFor({ sandbox }, (r) => r.some((x) => x.method !== 'CONNECT'));
  for (const r of rows) console.log(`${r.method} ${r.host}:${r.port}${r.path} -> ${r.status} ${r.decision} ${r.secrets.join(',')}`);
} finally {
  await standin.sandboxes.delete(sandbox);
  await standin.secrets.delete(secret);
}
