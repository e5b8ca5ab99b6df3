import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { Metrics } from '../../src/control/metrics.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { createNetLogWriter } from '../../src/netlog/writer.js';
import type { NetLogRow } from '../../src/netlog/types.js';
import { SqliteAsyncStore } from '../../src/store/sqlite-async-store.js';
import { openDatabase, type Db } from '../../src/store/database.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { call, type Target } from './http.js';
import { sqliteNetLog } from '../../src/netlog/sqlite-backend.js';

// The log routes of the control API: every filter, stats, explain, the viewer's assets; bound to
// the key's tenant like every read.
let home: string;
let db: Db;
let server: ControlServer;
let tcp: Target;
const keys: Record<string, string> = {};
const NOW = Date.parse('2026-01-01T00:00:00Z');

function row(i: number, extra: Partial<NetLogRow> = {}): NetLogRow {
  return {
    requestId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, at: NOW - 60_000 + i, sandbox: 'agent', tenant: 'default', method: 'GET',
    scheme: 'https', host: 'api.example.com', port: 443, path: '/v1/x', status: 200, decision: 'allowed', secrets: [], bytesIn: 1, bytesOut: 0,
    durationMs: 1, upstreamIp: null, errorCode: null, detail: { protocol: 'http/1.1', applied: [], scrubbed: false }, ...extra,
  };
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'standin-logroutes-'));
  db = openDatabase(join(home, 'standin.db'));
  const store = new SqliteAsyncStore(new SqliteStore(db, randomBytes(32)), db);
  await store.createTenant('team-c', 'test');
  const apiKeys = store.apiKeys;
  keys.auditor = (await apiKeys.create('auditor-key', 'auditor')).key;
  keys.team = (await apiKeys.create('team-auditor', 'auditor', { tenant: 'team-c' })).key;
  const w = createNetLogWriter(db);
  w.record(row(1, { decision: 'swapped', secrets: ['openai@2'] }));
  w.record(row(2, { host: 'evil.test', status: 403, decision: 'token_misuse', secrets: ['openai@2'], errorCode: 'GW_TOKEN_SCOPE' }));
  w.record(row(3, { tenant: 'team-c', sandbox: 'other' }));
  w.close();
  const sink = new Writable({ write: (_c, _e, done) => done() });
  server = await startControlServer(
    {
      store, db, netlog: sqliteNetLog(db), apiKeys, metrics: new Metrics(), logger: createLogger({ level: 'warn', destination: sink }), proxyAddress: () => '127.0.0.1:1',
      caBundlePath: join(home, 'b.pem'), caCertPem: '', caBundlePem: () => '', ready: () => true, clock: () => NOW,
    },
    { address: { kind: 'tcp', host: '127.0.0.1', port: 0 }, version: '0.1.0' },
  );
  tcp = server.address as Target;
});

afterAll(async () => {
  await server?.close();
  db?.close();
  rmSync(home, { recursive: true, force: true });
});

const get = (path: string, key: string | null | undefined = keys.auditor): ReturnType<typeof call> => call(tcp, 'GET', path, { headers: key === null || key === undefined ? {} : { authorization: `Bearer ${key}` } });

describe('log routes', () => {
  it('filter /v1/log by status, secret, method, host glob and time', async () => {
    const ids = async (q: string): Promise<number[]> => ((await get(`/v1/log?${q}`)).json() as { id: number }[]).map((r) => r.id);
    expect(await ids('status=403')).toEqual([2]);
    expect(await ids('secret=openai@2')).toEqual([1, 2]);
    expect(await ids('host=*.test')).toEqual([2]);
    expect(await ids('method=get&until=2025-01-01')).toEqual([]);
    expect(await ids('since=5m')).toEqual([1, 2]);
    for (const [q, field] of [['status=x', 'status'], ['secret=a@b@c', 'secret'], ['until=tomorrow', 'until'], ['host=a%20b', 'host']]) {
      const bad = await get(`/v1/log?${q}`);
      expect(bad.status, q).toBe(400);
      expect((bad.json() as { problems: { field: string }[] }).problems.map((p) => p.field)).toEqual([field]);
    }
  });

  it('count and explain within the key\'s tenant only', async () => {
    const stats = (await get('/v1/log/stats')).json() as { total: { requests: number }; swaps: unknown };
    expect(stats.total.requests).toBe(2);
    expect(stats.swaps).toEqual([{ key: 'openai@2', requests: 1 }]);
    expect(((await get('/v1/log/stats', keys.team)).json() as { total: { requests: number } }).total.requests).toBe(1);
    const e = await get('/v1/log/explain/00000000-0000-4000-8000-000000000002');
    expect(e.status).toBe(200);
    const view = e.json() as { explanation: { summary: string }; row: Record<string, unknown> };
    expect(view.explanation.summary).toContain('scope rule');
    // The reply schema keeps every field of the row, its detail and its place in the chain.
    expect(view.row).toMatchObject({ id: 2, status: 403, complete: true, chainSeq: 2, detail: { protocol: 'http/1.1', applied: [], scrubbed: false } });
    expect(view.row.hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await get('/v1/log/explain/00000000-0000-4000-8000-000000000002', keys.team)).status).toBe(404);
    expect((await get('/v1/log/explain/00000000-0000-4000-8000-000000000003', keys.team)).status).toBe(200);
    expect((await get('/v1/log/stats', null)).status).toBe(401);
  });

  it('serve the viewer with a strict CSP and no data', async () => {
    for (const [path, type] of [['/ui/log', 'text/html'], ['/ui/log.js', 'text/javascript'], ['/ui/log.css', 'text/css']] as const) {
      const r = await get(path, null);
      expect(r.status).toBe(200);
      expect(String(r.headers['content-type'])).toContain(type);
      expect(r.headers['content-security-policy']).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.text).not.toContain('api.example.com');
    }
    // The page's script writes request fields as text only.
    const js = (await get('/ui/log.js', null)).text;
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });
});
