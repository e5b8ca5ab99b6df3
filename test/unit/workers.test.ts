import { describe, expect, it } from 'vitest';
import type { NetLogRow } from '../../src/netlog/types.js';
import { createIpcNetLog } from '../../src/workers/ipc-netlog.js';
import { workerLimits } from '../../src/workers/limits.js';
import { asPrimaryMessage, asWorkerMessage } from '../../src/workers/protocol.js';

const row = (requestId: string, complete?: boolean): NetLogRow => ({
  requestId,
  at: 1,
  sandbox: 's',
  method: 'GET',
  scheme: 'https',
  host: 'api.example.com',
  port: 443,
  path: '/',
  status: 200,
  decision: 'swapped',
  secrets: ['k@1'],
  bytesIn: 0,
  bytesOut: 0,
  durationMs: 0,
  upstreamIp: null,
  errorCode: null,
  ...(complete === undefined ? {} : { complete }),
});

describe('worker network log (IPC)', () => {
  it('sends the forwarded row in the same tick, with what was queued before it, in order', async () => {
    const sent: string[][] = [];
    const log = createIpcNetLog((rows) => sent.push(rows.map((r) => `${r.requestId}:${r.complete === false ? 'open' : 'done'}`)));
    log.record(row('a'));
    log.record(row('b', false));
    // A tick queued after the row (node:http writes a request in one) runs after it was sent.
    const seenInLaterTick = await new Promise<string[][]>((resolve) => process.nextTick(() => resolve([...sent])));
    expect(seenInLaterTick).toEqual([['a:done', 'b:open']]);
    expect(log.pending()).toBe(0);
  });

  it('batches finished rows (at most 10 ms), and sends everything on close', async () => {
    const sent: string[][] = [];
    const log = createIpcNetLog((rows) => sent.push(rows.map((r) => r.requestId)));
    log.record(row('a'));
    log.record(row('b'));
    expect(log.pending()).toBe(2);
    await new Promise((r) => setTimeout(r, 30));
    expect(sent).toEqual([['a', 'b']]);
    log.record(row('c'));
    log.close();
    expect(sent).toEqual([['a', 'b'], ['c']]);
  });
});

describe('per-sandbox limits split over workers', () => {
  it('never adds up to more than the configured total', () => {
    for (const workers of [1, 2, 3, 7, 16, 64]) {
      const l = workerLimits(workers, { upstreamSocketsPerHost: 64 });
      expect(l.connectionsPerSandbox * workers).toBeLessThanOrEqual(512);
      expect(l.upstreamSocketsPerHost * workers).toBeLessThanOrEqual(64);
      expect(l.upstreamSocketsPerHost).toBeGreaterThanOrEqual(1);
    }
    expect(workerLimits(1, {})).toEqual({ connectionsPerSandbox: 512, upstreamSocketsPerHost: 64 });
    expect(workerLimits(2, { upstreamSocketsPerHost: 2 })).toEqual({ connectionsPerSandbox: 256, upstreamSocketsPerHost: 1 });
  });
});

describe('worker messages', () => {
  it('accepts what workers send and ignores anything malformed', () => {
    expect(asWorkerMessage({ t: 'listening', host: '127.0.0.1', port: 8877 })).toEqual({ t: 'listening', host: '127.0.0.1', port: 8877 });
    expect(asWorkerMessage({ t: 'rows', rows: [row('a')] })?.t).toBe('rows');
    expect(asWorkerMessage({ t: 'rows', rows: [{ requestId: 1 }] })).toBeUndefined();
    expect(asWorkerMessage({ t: 'stats', stats: { openConnections: 1, openTunnels: 1, leafCacheSize: 1, upstreamSockets: 1, upstreamPools: -1 } })).toBeUndefined();
    expect(asWorkerMessage({ t: 'fatal', lines: ['standin: x'], exitCode: 1 })).toEqual({ t: 'fatal', lines: ['standin: x'], exitCode: 1 });
    expect(asWorkerMessage({ t: 'other' })).toBeUndefined();
    expect(asWorkerMessage('rows')).toBeUndefined();
    expect(asPrimaryMessage({ t: 'selfPorts', ports: [1234] })).toEqual({ t: 'selfPorts', ports: [1234] });
    expect(asPrimaryMessage({ t: 'selfPorts', ports: ['1234'] })).toBeUndefined();
    expect(asPrimaryMessage({ t: 'logAccepting', accepting: false })).toEqual({ t: 'logAccepting', accepting: false });
    expect(asPrimaryMessage({ t: 'logAccepting', accepting: 'no' })).toBeUndefined();
    expect(asPrimaryMessage({ t: 'logAccepting' })).toBeUndefined();
  });
});
