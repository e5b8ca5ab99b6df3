import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServeOptions, type RawServeOptions } from '../../src/cli/serve-options.js';

const base: RawServeOptions = { listen: '127.0.0.1:8877', upstreamCa: [], resolve: [], allowDest: [], logLevel: 'info' };

describe('serve --upstream-sockets-per-host', () => {
  it('is the gateway default when not given, and an integer from 1 to 10000 when given', () => {
    expect(parseServeOptions(base).upstreamSocketsPerHost).toBeUndefined();
    expect(parseServeOptions({ ...base, upstreamSocketsPerHost: '8' }).upstreamSocketsPerHost).toBe(8);
    for (const bad of ['0', '-1', '1.5', 'x', '10001', '']) {
      expect(() => parseServeOptions({ ...base, upstreamSocketsPerHost: bad }), bad).toThrow(/upstream-sockets-per-host/);
    }
  });

  it('can come from --config, the flag winning', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'standin-cfg-')), 'c.json');
    writeFileSync(file, JSON.stringify({ upstreamSocketsPerHost: '16' }));
    expect(parseServeOptions({ ...base, config: file }, () => false).upstreamSocketsPerHost).toBe(16);
    expect(parseServeOptions({ ...base, config: file, upstreamSocketsPerHost: '4' }, (k) => k === 'upstreamSocketsPerHost').upstreamSocketsPerHost).toBe(4);
  });
});

describe('serve --log-spool-bytes', () => {
  it('is the spool default when not given, and an integer from 1024 to 1 TiB when given, also from --config', () => {
    expect(parseServeOptions(base).logSpoolBytes).toBeUndefined();
    expect(parseServeOptions({ ...base, logSpoolBytes: '4096' }).logSpoolBytes).toBe(4096);
    for (const bad of ['0', '1023', '-1', '1.5', 'x', '', String(1024 ** 4 + 1)]) {
      expect(() => parseServeOptions({ ...base, logSpoolBytes: bad }), bad).toThrow(/log-spool-bytes/);
    }
    const file = join(mkdtempSync(join(tmpdir(), 'standin-cfg-')), 'c.json');
    writeFileSync(file, JSON.stringify({ logSpoolBytes: '65536' }));
    expect(parseServeOptions({ ...base, config: file }, () => false).logSpoolBytes).toBe(65536);
  });
});
