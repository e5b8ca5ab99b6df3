import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { lastNetLogId, queryNetLog } from '../../src/netlog/query.js';
import { escapeForTerminal, parseSince, redactPath } from '../../src/netlog/sanitize.js';
import type { NetLogRow } from '../../src/netlog/types.js';
import { createNetLogWriter } from '../../src/netlog/writer.js';
import { openDatabase, type Db } from '../../src/store/database.js';

let dir: string;
let db: Db;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-netlog-'));
  db = openDatabase(path.join(dir, 'standin.db'));
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function row(extra: Partial<NetLogRow> = {}): NetLogRow {
  seq++;
  return {
    requestId: `req-${seq}`,
    at: 1_700_000_000_000 + seq,
    sandbox: 'agent',
    tenant: 'default',
    method: 'GET',
    scheme: 'https',
    host: 'api.example.com',
    port: 443,
    path: '/v1/models',
    status: 200,
    decision: 'allowed',
    secrets: [],
    bytesIn: 10,
    bytesOut: 0,
    durationMs: 5,
    upstreamIp: '93.184.216.34',
    errorCode: null,
    ...extra,
  };
}

const count = (): number => (db.prepare('SELECT COUNT(*) AS n FROM network_log').get() as { n: number }).n;
const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('network log writer', () => {
  it('never writes inside record; writes a full batch on the next turn, the rest on the timer', async () => {
    const w = createNetLogWriter(db, { batchSize: 3, intervalMs: 60_000 });
    w.record(row());
    w.record(row());
    expect(count()).toBe(0);
    w.record(row());
    expect(count()).toBe(0); // batch is full, but the write is scheduled, not done here
    expect(w.pending()).toBe(3);
    await new Promise((r) => setImmediate(r));
    expect(count()).toBe(3);
    w.record(row());
    await tick(5);
    expect(count()).toBe(3); // below the batch size and the timer is a minute away
    w.close();
  });

  it('writes on the timer', async () => {
    const w = createNetLogWriter(db, { intervalMs: 20 });
    w.record(row());
    expect(count()).toBe(0);
    await tick(80);
    expect(count()).toBe(1);
    expect(w.pending()).toBe(0);
    w.close();
  });

  it('flush writes everything synchronously and round-trips every field', () => {
    const w = createNetLogWriter(db, { intervalMs: 60_000 });
    const r = row({ secrets: ['openai@2', 'gh@1'], decision: 'swapped', errorCode: 'GW_UPSTREAM_TLS', sandbox: null, upstreamIp: null });
    w.record(r);
    w.flush();
    expect(w.pending()).toBe(0);
    const [stored] = queryNetLog(db, {});
    expect(stored).toEqual({ ...r, id: stored?.id, complete: true, gateway: 'local' });
    w.close();
  });

  it('close writes what is queued and rows recorded after close still reach disk', () => {
    const w = createNetLogWriter(db, { intervalMs: 60_000 });
    for (let i = 0; i < 250; i++) w.record(row());
    w.close();
    expect(count()).toBe(250);
    w.record(row());
    expect(count()).toBe(251);
  });

  it('at the queue bound it writes synchronously instead of dropping', () => {
    const w = createNetLogWriter(db, { batchSize: 10, maxQueue: 50, intervalMs: 60_000 });
    for (let i = 0; i < 49; i++) w.record(row());
    expect(count()).toBe(0);
    w.record(row());
    expect(count()).toBe(50);
    expect(w.pending()).toBe(0);
    w.close();
  });

  it('keeps rows queued when a write fails, reports the error, and writes them later in order', async () => {
    const errors: unknown[] = [];
    const w = createNetLogWriter(db, { intervalMs: 10, onError: (e) => errors.push(e) });
    db.exec('CREATE TEMP TRIGGER nl_block BEFORE INSERT ON network_log BEGIN SELECT RAISE(ABORT, \'blocked\'); END');
    w.record(row({ requestId: 'first' }));
    w.record(row({ requestId: 'second' }));
    await tick(50);
    expect(errors.length).toBeGreaterThan(0);
    expect(w.pending()).toBe(2);
    db.exec('DROP TRIGGER nl_block');
    await tick(50);
    expect(w.pending()).toBe(0);
    expect(queryNetLog(db, {}).map((r) => r.requestId)).toEqual(['first', 'second']);
    w.close();
  });
});

describe('network log query', () => {
  function seed(): void {
    const w = createNetLogWriter(db);
    w.record(row({ sandbox: 'Agent', host: 'api.openai.com', decision: 'swapped', at: 1000 }));
    w.record(row({ sandbox: 'other', host: 'api.openai.com', decision: 'denied', at: 2000 }));
    w.record(row({ sandbox: 'agent', host: 'github.com', decision: 'token_misuse', at: 3000 }));
    w.record(row({ sandbox: null, host: 'evil.test', decision: 'denied', at: 4000 }));
    w.close();
  }

  it('filters by sandbox (any case), host (lower-cased), decision and since', () => {
    seed();
    expect(queryNetLog(db, { sandbox: 'AGENT' }).map((r) => r.at)).toEqual([1000, 3000]);
    expect(queryNetLog(db, { host: 'API.OpenAI.com' }).map((r) => r.at)).toEqual([1000, 2000]);
    expect(queryNetLog(db, { decision: 'denied' }).map((r) => r.at)).toEqual([2000, 4000]);
    expect(queryNetLog(db, { since: 2500 }).map((r) => r.at)).toEqual([3000, 4000]);
    expect(queryNetLog(db, { sandbox: 'agent', decision: 'token_misuse' }).map((r) => r.host)).toEqual(['github.com']);
  });

  it('limit keeps the newest N, oldest first; afterId returns later rows only', () => {
    seed();
    expect(queryNetLog(db, { limit: 2 }).map((r) => r.at)).toEqual([3000, 4000]);
    const all = queryNetLog(db, {});
    expect(all.map((r) => r.at)).toEqual([1000, 2000, 3000, 4000]);
    expect(queryNetLog(db, { afterId: all[1]!.id }).map((r) => r.at)).toEqual([3000, 4000]);
    expect(lastNetLogId(db)).toBe(all[3]!.id);
  });

  it('defaults to 100 rows', () => {
    const w = createNetLogWriter(db);
    for (let i = 0; i < 130; i++) w.record(row());
    w.close();
    const rows = queryNetLog(db, {});
    expect(rows).toHaveLength(100);
    expect(rows[99]!.id).toBe(lastNetLogId(db));
  });

  it('treats filter values as data, never as SQL', () => {
    seed();
    expect(queryNetLog(db, { sandbox: "x' OR '1'='1" })).toEqual([]);
    expect(queryNetLog(db, { host: 'x" OR 1=1 --' })).toEqual([]);
    expect(count()).toBe(4);
  });
});

describe('redactPath', () => {
  it('replaces every query value and keeps names', () => {
    expect(redactPath('/v1/x?a=1&b')).toBe('/v1/x?a=[redacted]&b');
    expect(redactPath('/p?key=sk-live-123&sig=abc%3D&empty=')).toBe('/p?key=[redacted]&sig=[redacted]&empty=[redacted]');
    expect(redactPath('/plain/path')).toBe('/plain/path');
    expect(redactPath('/p?token=a=b=c')).toBe('/p?token=[redacted]');
  });

  it('escapes control, non-ASCII and backslash characters as \\xNN', () => {
    expect(redactPath('/a\x1b[31mred')).toBe('/a\\x1b[31mred');
    expect(redactPath('/caf\u00e9')).toBe('/caf\\xc3\\xa9');
    expect(redactPath('/a\\b\r\n')).toBe('/a\\x5cb\\x0d\\x0a');
  });

  it('caps the length without cutting an escape in half', () => {
    const long = redactPath(`/${'a'.repeat(10_000)}`);
    expect(long.length).toBeLessThanOrEqual(2048);
    expect(long.endsWith('...[truncated]')).toBe(true);
    const escaped = redactPath(`/${'\x01'.repeat(1_000)}`);
    expect(escaped.length).toBeLessThanOrEqual(2048);
    expect(escaped.replace('...[truncated]', '')).toMatch(/^\/(\\x01)+$/);
    expect(redactPath(`/${'b'.repeat(2047)}`)).toHaveLength(2048);
  });
});

describe('escapeForTerminal', () => {
  it('escapes C0, DEL, C1 and ESC so nothing reaches the terminal as a control sequence', () => {
    expect(escapeForTerminal('a\x1b]0;title\x07b')).toBe('a\\x1b]0;title\\x07b');
    expect(escapeForTerminal('x\x7f\x9b2Jy')).toBe('x\\x7f\\x9b2Jy');
    expect(escapeForTerminal('line\nbreak\r\t')).toBe('line\\x0abreak\\x0d\\x09');
    expect(escapeForTerminal('ok host.example:443 /caf\u00e9')).toBe('ok host.example:443 /caf\u00e9');
  });

  it('escapes bidi overrides that would make a row display as something else', () => {
    expect(escapeForTerminal('evil\u202egro.com')).toBe('evil\\u{202e}gro.com');
  });
});

describe('parseSince', () => {
  const now = Date.UTC(2025, 0, 10, 12, 0, 0);
  it('accepts ages', () => {
    expect(parseSince('30s', now)).toBe(now - 30_000);
    expect(parseSince('15m', now)).toBe(now - 900_000);
    expect(parseSince('2h', now)).toBe(now - 7_200_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
  });

  it('accepts ISO 8601 times', () => {
    expect(parseSince('2025-01-09T10:00:00Z', now)).toBe(Date.UTC(2025, 0, 9, 10));
    expect(parseSince('2025-01-09T10:00:00.250+02:00', now)).toBe(Date.UTC(2025, 0, 9, 8, 0, 0, 250));
    expect(parseSince('2025-01-09', now)).toBe(Date.UTC(2025, 0, 9));
  });

  it('refuses anything else with a UsageError', () => {
    for (const bad of ['', 'yesterday', '5', '5w', '-5m', '2025-13-45', 'March 7', '1e3s']) {
      expect(() => parseSince(bad, now), bad).toThrow(UsageError);
    }
  });
});

describe('retention', () => {
  it('keeps at most maxRows and nothing older than maxAge, pruning as it writes', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openDatabase } = await import('../../src/store/database.js');
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'standin-ret-')), 'r.db'));
    let now = 1_000_000;
    const w = createNetLogWriter(db, { retention: { maxRows: 50, maxAgeMs: 10_000 }, pruneEvery: 10, clock: () => now });
    const row = (at: number, i: number) => ({
      requestId: `r${i}`, at, sandbox: 'sb', method: 'GET', scheme: 'https' as const, host: 'h', port: 443, path: '/',
      status: 200, decision: 'allowed' as const, secrets: [], bytesIn: 0, bytesOut: 0, durationMs: 1, upstreamIp: null, errorCode: null,
    });
    for (let i = 0; i < 200; i++) {
      w.record(row(now, i));
      if (i % 10 === 9) w.flush();
    }
    w.flush();
    const count = (db.prepare('SELECT COUNT(*) AS n FROM network_log').get() as { n: number }).n;
    expect(count).toBeLessThanOrEqual(60);
    expect(count).toBeGreaterThanOrEqual(50);
    expect((db.prepare('SELECT MAX(request_id) AS m FROM network_log WHERE request_id = ?').get('r199') as { m: string }).m).toBe('r199');
    now += 20_000;
    for (let i = 0; i < 10; i++) w.record(row(now, 1000 + i));
    w.close();
    const left = db.prepare('SELECT request_id FROM network_log').all() as { request_id: string }[];
    expect(left.map((r) => r.request_id).every((id) => Number(id.slice(1)) >= 1000)).toBe(true);
    db.close();
  });
});
