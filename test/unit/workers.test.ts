import { describe, expect, it } from 'vitest';
import type { NetLogRow } from '../../src/netlog/types.js';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRowFileLog, ROTATE_BYTES, rowFileName } from '../../src/workers/row-file.js';
import { RowFileReader } from '../../src/workers/row-file-reader.js';
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

describe('worker network log (row files)', () => {
  const dir = (): string => mkdtempSync(join(tmpdir(), 'standin-rows-'));
  const ids = (rows: NetLogRow[]): string[] => rows.map((r) => `${r.requestId}:${r.complete === false ? 'open' : 'done'}`);

  it('a forwarded row is in the file by the next tick (before a request node:http writes then), in order with what came before', async () => {
    const d = dir();
    const log = createRowFileLog(d, 4242);
    const reader = new RowFileReader(d);
    const lines = (): number => (existsSync(join(d, rowFileName(4242, 0))) ? readFileSync(join(d, rowFileName(4242, 0)), 'utf8').split('\n').filter(Boolean).length : 0);
    log.record(row('a'));
    log.record(row('b', false));
    // What a SIGKILL in a tick queued after the row would leave: both rows, in the file.
    const seenInLaterTick = await new Promise<number>((resolve) => process.nextTick(() => resolve(lines())));
    expect(seenInLaterTick).toBe(2);
    expect(ids(reader.read(4242))).toEqual(['a:done', 'b:open']);
    expect(reader.read(4242)).toEqual([]);
    // Finished rows go at the end of the loop iteration, all in one write.
    log.record(row('b'));
    log.record(row('c'));
    expect(log.pending()).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ids(reader.read(4242))).toEqual(['b:done', 'c:done']);
    expect(log.pending()).toBe(0);
    log.record(row('d'));
    log.close();
    expect(ids(reader.read(4242))).toEqual(['d:done']);
  });

  it('a line written in two parts is read once whole', () => {
    const d = dir();
    const reader = new RowFileReader(d);
    const line = `${JSON.stringify(row('split'))}\n`;
    const file = join(d, rowFileName(7, 0));
    appendFileSync(file, line.slice(0, 40));
    expect(reader.read(7)).toEqual([]);
    appendFileSync(file, line.slice(40));
    expect(ids(reader.read(7))).toEqual(['split:done']);
  });

  it('follows the worker across file rotations and deletes what it has read', () => {
    const d = dir();
    const log = createRowFileLog(d, 99);
    const reader = new RowFileReader(d);
    const seen: string[] = [];
    const pad = 'p'.repeat(2000);
    let n = 0;
    while (existsSync(join(d, rowFileName(99, 2))) === false && n < 20_000) {
      log.record({ ...row(`r${n}`), path: `/${pad}` });
      log.flush();
      n += 1;
      if (n % 1000 === 0) seen.push(...reader.read(99).map((r) => r.requestId));
    }
    expect(n).toBeGreaterThan((2 * ROTATE_BYTES) / 2500);
    seen.push(...reader.read(99).map((r) => r.requestId));
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `r${i}`));
    // Generations 0 and 1 are whole and read: gone. The current one stays until the worker is.
    expect(readdirSync(d).sort()).toEqual([rowFileName(99, 2)]);
    log.close();
    reader.finish(99);
    expect(readdirSync(d)).toEqual([]);
  });

  it('a worker gone: its last rows, then a closing row for each exchange it left open; a cut line is skipped', () => {
    const d = dir();
    const log = createRowFileLog(d, 555);
    const reader = new RowFileReader(d, () => 5_001);
    log.record(row('done-1', false));
    log.record(row('done-1'));
    log.record(row('open-1', false));
    log.flush();
    expect(ids(reader.read(555))).toEqual(['done-1:open', 'done-1:done', 'open-1:open']);
    log.record(row('open-2', false));
    log.flush();
    appendFileSync(join(d, rowFileName(555, 0)), '{"requestId":"cut-by-the-kill","at');
    const last = reader.finish(555);
    expect(ids(last)).toEqual(['open-2:open', 'open-1:done', 'open-2:done']);
    expect(last.slice(1).map((r) => [r.errorCode, r.decision, r.durationMs])).toEqual([
      ['GW_WORKER_EXITED', 'swapped', 5_000],
      ['GW_WORKER_EXITED', 'swapped', 5_000],
    ]);
    expect(reader.skipped).toBe(1);
    expect(readdirSync(d)).toEqual([]);
  });

  it('finds the files of workers that no longer run (a gateway killed with them), never a running one', () => {
    const d = dir();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    for (const [pid, id] of [[Number(dead), 'left'], [process.pid, 'mine']] as const) {
      const log = createRowFileLog(d, pid);
      log.record(row(id, false));
      log.close();
    }
    const reader = new RowFileReader(d);
    expect(reader.leftovers()).toEqual([Number(dead)]);
    expect(ids(reader.finish(Number(dead)))).toEqual(['left:open', 'left:done']);
    expect(reader.leftovers()).toEqual([]);
  });

  it('a write that fails (a full disk) drops nothing, stops accepting, and resumes on a file opened afresh', async () => {
    const d = dir();
    const file = join(d, rowFileName(808, 0));
    symlinkSync('/dev/full', file);
    const errors: unknown[] = [];
    const log = createRowFileLog(d, 808, (e) => errors.push(e));
    log.record(row('while-full', false));
    // The failure is in the next tick's write: nothing thrown into the request path.
    await new Promise((resolve) => process.nextTick(resolve));
    expect((errors[0] as NodeJS.ErrnoException | undefined)?.code).toBe('ENOSPC');
    expect(log.accepting?.()).toBe(false);
    expect(log.pending()).toBe(1);
    log.record(row('also-kept'));
    unlinkSync(file);
    const reader = new RowFileReader(d);
    const deadline = Date.now() + 3_000;
    while (log.accepting?.() === false && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(log.accepting?.()).toBe(true);
    expect(ids(reader.read(808))).toEqual(['while-full:open', 'also-kept:done']);
    log.close();
  });

  it('ignores lines that are not rows', () => {
    const d = dir();
    writeFileSync(join(d, rowFileName(3, 0)), `not json\n{"requestId":1}\n${JSON.stringify(row('ok'))}\n`);
    const reader = new RowFileReader(d);
    expect(ids(reader.read(3))).toEqual(['ok:done']);
    expect(reader.skipped).toBe(2);
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
    expect(asWorkerMessage({ t: 'rows', rows: [row('a')] })).toBeUndefined();
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
