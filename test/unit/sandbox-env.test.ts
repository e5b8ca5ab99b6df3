import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatEnv, mergeNodeOptions, nodeOptionQuote, nodePreloadPath, sandboxEnv } from '../../src/sandbox-env/env.js';

const input = { sandbox: 'agent', proxyKey: 'abc', bindings: [{ env: 'OPENAI_API_KEY', token: 'sk-standin_x' }], proxy: '127.0.0.1:8877', caBundle: '/home/u/.standin/ca/bundle.pem' };

describe('sandbox env for Node programs', () => {
  it('sets NODE_USE_ENV_PROXY and preloads the proxy file next to the CA bundle', () => {
    const env = sandboxEnv(input);
    expect(env.NODE_USE_ENV_PROXY).toBe('1');
    expect(env.NODE_OPTIONS).toBe('--require=/home/u/.standin/ca/node-proxy-preload.cjs');
    expect(nodePreloadPath('/etc/standin/ca.pem')).toBe('/etc/standin/node-proxy-preload.cjs');
    expect(sandboxEnv({ ...input, nodePreload: '/opt/p.cjs' }).NODE_OPTIONS).toBe('--require=/opt/p.cjs');
  });

  it('quotes paths for NODE_OPTIONS the way Node splits it', () => {
    expect(nodeOptionQuote('/a/b.cjs')).toBe('/a/b.cjs');
    expect(nodeOptionQuote('/my home/b.cjs')).toBe('"/my home/b.cjs"');
    expect(nodeOptionQuote('/a "q"\\b')).toBe('"/a \\"q\\"\\\\b"');
  });

  it('puts the preload in front of NODE_OPTIONS already set, once', () => {
    expect(mergeNodeOptions('--require /p.cjs', undefined)).toBe('--require /p.cjs');
    expect(mergeNodeOptions('--require /p.cjs', '  ')).toBe('--require /p.cjs');
    expect(mergeNodeOptions('--require /p.cjs', '--max-old-space-size=512')).toBe('--require /p.cjs --max-old-space-size=512');
    expect(mergeNodeOptions('--require /p.cjs', '--require /p.cjs --inspect')).toBe('--require /p.cjs --inspect');
  });

  it('shell format appends to the NODE_OPTIONS of the shell that sources it', () => {
    const text = formatEnv(sandboxEnv({ ...input, caBundle: "/tmp/it's here/bundle.pem" }), 'shell');
    const script = `${text}\nprintf '%s' "$NODE_OPTIONS"`;
    const got = execFileSync('sh', ['-c', script], { env: { PATH: process.env.PATH, NODE_OPTIONS: '--title=x' }, encoding: 'utf8' });
    expect(got).toBe(`--require="/tmp/it's here/node-proxy-preload.cjs" --title=x`);
    const alone = execFileSync('sh', ['-c', script], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(alone).toBe(`--require="/tmp/it's here/node-proxy-preload.cjs"`);
    expect(formatEnv(sandboxEnv(input), 'dotenv')).toContain('\nNODE_OPTIONS=--require=/home/u/.standin/ca/node-proxy-preload.cjs\n');
  });
});
