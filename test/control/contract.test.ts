import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { Metrics } from '../../src/control/metrics.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { SqliteAsyncStore } from '../../src/store/sqlite-async-store.js';
import { openDatabase, type Db } from '../../src/store/database.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { call, jsonBody, type Reply, type Target } from './http.js';
import { sqliteNetLog } from '../../src/netlog/sqlite-backend.js';

/**
 * The control API's wire contract, captured from the hand-written server before it moved onto
 * fastify (fixtures/), and compared on every run: for each request of a fixed script, the status,
 * the headers a client depends on, the problem code and field list, and the shape of the JSON.
 * And the OpenAPI document's paths, operations, parameters, bodies and status codes.
 * `UPDATE_CONTRACT=1` rewrites the fixtures (only when a change of the contract is intended).
 */
const FIXTURES = join(import.meta.dirname, 'fixtures');
const UPDATE = process.env.UPDATE_CONTRACT === '1';
const REAL = 'sk-real-contract-Wq73Lm0pXv';

let home: string;
let db: Db;
let tcpServer: ControlServer;
let unixServer: ControlServer;
let tcp: { host: string; port: number };
let sock: Target;
const keys: Record<string, string> = {};
const logs: string[] = [];

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'standin-contract-'));
  db = openDatabase(join(home, 'standin.db'));
  const store = new SqliteAsyncStore(new SqliteStore(db, randomBytes(32)), db);
  await store.createTenant('team-c', 'test');
  const apiKeys = store.apiKeys;
  for (const role of ['admin', 'operator', 'auditor'] as const) keys[role] = (await apiKeys.create(`${role}-key`, role)).key;
  keys.glass = (await apiKeys.create('glass', 'auditor', { canReveal: true })).key;
  keys.teamAdmin = (await apiKeys.create('team-admin', 'admin', { tenant: 'team-c' })).key;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const metrics = new Metrics();
  const deps = {
    store,
    db,
    netlog: sqliteNetLog(db),
    apiKeys,
    metrics,
    logger: createLogger({ level: 'debug', destination: sink }),
    proxyAddress: () => '127.0.0.1:18877',
    caBundlePath: join(home, 'bundle.pem'),
    caCertPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    caBundlePem: () => '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    ready: () => true,
    clock: () => Date.parse('2026-01-01T00:00:00Z'),
  };
  tcpServer = await startControlServer(deps, { address: { kind: 'tcp', host: '127.0.0.1', port: 0 }, version: '0.1.0' });
  unixServer = await startControlServer(deps, { address: { kind: 'unix', path: join(home, 'control.sock') }, version: '0.1.0' });
  tcp = tcpServer.address as { host: string; port: number };
  sock = { socketPath: join(home, 'control.sock') };
});

afterAll(async () => {
  await tcpServer?.close();
  await unixServer?.close();
  db?.close();
  if (home !== undefined) rmSync(home, { recursive: true, force: true });
});

interface Step {
  on: 'unix' | 'tcp';
  method: string;
  path: string;
  key?: string;
  headers?: Record<string, string>;
  body?: unknown;
  raw?: { body: string; type: string };
}

const json = (v: unknown): { raw: { body: string; type: string } } => ({ raw: { body: JSON.stringify(v), type: 'application/json' } });

const SCRIPT: Step[] = [
  { on: 'unix', method: 'GET', path: '/healthz' },
  { on: 'unix', method: 'HEAD', path: '/healthz' },
  { on: 'unix', method: 'GET', path: '/readyz' },
  { on: 'unix', method: 'GET', path: '/openapi.json' },
  { on: 'unix', method: 'GET', path: '/metrics' },
  { on: 'unix', method: 'GET', path: '/v1/ca' },
  { on: 'unix', method: 'GET', path: '/v1/ca?bundle=true' },
  { on: 'unix', method: 'GET', path: '/v1/ca?bundle=maybe' },
  { on: 'unix', method: 'GET', path: '/v1/ca?other=1' },
  { on: 'unix', method: 'GET', path: '/v1/providers' },
  { on: 'unix', method: 'GET', path: '/v1/secrets' },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'svc', value: REAL, hosts: ['api.example.com'] } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'anth', value: REAL, provider: 'anthropic' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'SVC', value: REAL, hosts: ['api.example.com'] } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'bad name!', value: REAL, hosts: ['*.com'], scheme: 'header:authorization', extra: 1 } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { value: REAL } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'x', value: 5, hosts: 'a.example' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'x', value: REAL, hosts: [] } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'x', value: REAL, hosts: ['a.example'], provider: 'nope' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'x', value: REAL, hosts: ['a.example'], environment: 'Bad Env!' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'x'.repeat(64), value: REAL, hosts: ['a.example'] } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: [1, 2] },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: 'text' },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: null },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: null, value: REAL, hosts: ['a.example'] } },
  { on: 'unix', method: 'POST', path: '/v1/secrets' },
  { on: 'unix', method: 'POST', path: '/v1/secrets', raw: { body: `{"name":"x","value":"${REAL}"`, type: 'application/json' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', raw: { body: `name=x&value=${REAL}`, type: 'application/x-www-form-urlencoded' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', raw: { body: JSON.stringify({ name: 'x', value: REAL }), type: 'text/plain' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', raw: { body: JSON.stringify({ name: 'y', value: REAL, hosts: ['y.example'] }), type: 'application/json; charset=utf-8' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'big', value: 'x'.repeat(70 * 1024) } },
  { on: 'unix', method: 'POST', path: '/v1/secrets', body: { name: 'long', value: 'x'.repeat(17 * 1024), hosts: ['a.example'] } },
  { on: 'unix', method: 'GET', path: '/v1/secrets/svc' },
  { on: 'unix', method: 'GET', path: '/v1/secrets/SVC' },
  { on: 'unix', method: 'GET', path: '/v1/secrets/nope' },
  { on: 'unix', method: 'GET', path: '/v1/secrets/%E0%A4%A' },
  { on: 'unix', method: 'GET', path: '/v1/secrets/' },
  { on: 'unix', method: 'PATCH', path: '/v1/secrets/svc' },
  { on: 'unix', method: 'PUT', path: '/v1/secrets' },
  { on: 'unix', method: 'GET', path: '/v1/nothing' },
  { on: 'unix', method: 'GET', path: '/' },
  { on: 'unix', method: 'GET', path: '/v1/secrets/svc/extra/deep' },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/rotate', body: { value: `${REAL}-2` } },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/rotate', body: { value: `${REAL}-s`, environment: 'staging' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/rotate', body: {} },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/rotate', body: { value: REAL, environment: 'bad env' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets/nope/rotate', body: { value: REAL } },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/rollback' },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/rollback', body: { environment: 'default' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/rollback', body: { other: 1 } },
  { on: 'unix', method: 'POST', path: '/v1/secrets/nope/rollback' },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/reveal', body: { reason: 'incident 1: check the key' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/reveal', body: { reason: 'short' } },
  { on: 'unix', method: 'POST', path: '/v1/secrets/svc/reveal', body: {} },
  { on: 'unix', method: 'GET', path: '/v1/sandboxes' },
  { on: 'unix', method: 'POST', path: '/v1/sandboxes', body: { name: 'box', secrets: { SVC_TOKEN: 'svc', ANTHROPIC_API_KEY: 'anth' }, allowHosts: ['api.example.com'] } },
  { on: 'unix', method: 'POST', path: '/v1/sandboxes', body: { name: 'box2', proxy: 'standin.internal:8877', caFile: '/etc/ca.pem', environment: 'staging' } },
  { on: 'unix', method: 'POST', path: '/v1/sandboxes', body: { name: 'BOX' } },
  { on: 'unix', method: 'POST', path: '/v1/sandboxes', body: { name: 'bad box', secrets: { 'bad-env': 'nope' }, allowHosts: ['*.com'], environment: 'x y' } },
  { on: 'unix', method: 'POST', path: '/v1/sandboxes', body: { name: 'box3', proxy: 'not a proxy' } },
  { on: 'unix', method: 'POST', path: '/v1/sandboxes', body: { name: 'box4', caFile: 'relative.pem' } },
  { on: 'unix', method: 'POST', path: '/v1/sandboxes', body: { name: 'box5', secrets: { A: 5 } } },
  { on: 'unix', method: 'POST', path: '/v1/sandboxes', body: { name: 'box6', secrets: [] } },
  { on: 'unix', method: 'POST', path: '/v1/sandboxes', body: { name: 'box7', allowHosts: [1] } },
  { on: 'unix', method: 'GET', path: '/v1/sandboxes/box' },
  { on: 'unix', method: 'GET', path: '/v1/sandboxes/nope' },
  { on: 'unix', method: 'GET', path: '/v1/sandboxes/box/env' },
  { on: 'unix', method: 'GET', path: '/v1/sandboxes/box/env?proxy=gw.internal:1234&caFile=/ca.pem' },
  { on: 'unix', method: 'GET', path: '/v1/sandboxes/box/env?proxy=bad' },
  { on: 'unix', method: 'GET', path: '/v1/sandboxes/box/env?caFile=rel' },
  { on: 'unix', method: 'GET', path: '/v1/sandboxes/box/env?bogus=1' },
  { on: 'unix', method: 'GET', path: '/v1/sandboxes/nope/env' },
  { on: 'unix', method: 'PUT', path: '/v1/sandboxes/box/bindings/OTHER', body: { secret: 'svc' } },
  { on: 'unix', method: 'PUT', path: '/v1/sandboxes/box/bindings/OTHER2', body: { secret: 'nope' } },
  { on: 'unix', method: 'PUT', path: '/v1/sandboxes/box/bindings/bad-env', body: { secret: 'svc' } },
  { on: 'unix', method: 'PUT', path: '/v1/sandboxes/box/bindings/OTHER3', body: {} },
  { on: 'unix', method: 'PUT', path: '/v1/sandboxes/nope/bindings/OTHER', body: { secret: 'svc' } },
  { on: 'unix', method: 'DELETE', path: '/v1/sandboxes/box/bindings/OTHER' },
  { on: 'unix', method: 'DELETE', path: '/v1/sandboxes/box/bindings/NONE' },
  { on: 'unix', method: 'GET', path: '/v1/log' },
  { on: 'unix', method: 'GET', path: '/v1/log?limit=5&sandbox=box&host=api.example.com&decision=swapped&since=15m&afterId=0' },
  { on: 'unix', method: 'GET', path: '/v1/log?since=1767225600000' },
  { on: 'unix', method: 'GET', path: '/v1/log?since=2026-01-01T00:00:00Z' },
  { on: 'unix', method: 'GET', path: '/v1/log?since=yesterday' },
  { on: 'unix', method: 'GET', path: '/v1/log?limit=abc' },
  { on: 'unix', method: 'GET', path: '/v1/log?limit=10001' },
  { on: 'unix', method: 'GET', path: '/v1/log?decision=maybe' },
  { on: 'unix', method: 'GET', path: '/v1/log?bogus=1&other=2' },
  { on: 'unix', method: 'GET', path: '/v1/audit' },
  { on: 'unix', method: 'GET', path: '/v1/audit?limit=2&since=1h' },
  { on: 'unix', method: 'GET', path: '/v1/audit?sandbox=x' },
  { on: 'unix', method: 'GET', path: '/v1/secrets', headers: { 'standin-tenant': 'Team-C' } },
  { on: 'unix', method: 'GET', path: '/v1/secrets', headers: { 'standin-tenant': 'nobody' } },
  { on: 'unix', method: 'GET', path: '/v1/secrets', headers: { 'standin-tenant': 'Bad Name!' } },
  { on: 'unix', method: 'GET', path: '/healthz', headers: { 'standin-tenant': 'Bad Name!' } },
  { on: 'unix', method: 'DELETE', path: '/v1/sandboxes/box2' },
  { on: 'unix', method: 'DELETE', path: '/v1/sandboxes/box2' },
  { on: 'tcp', method: 'GET', path: '/healthz' },
  { on: 'tcp', method: 'GET', path: '/openapi.json' },
  { on: 'tcp', method: 'GET', path: '/readyz' },
  { on: 'tcp', method: 'GET', path: '/v1/secrets' },
  { on: 'tcp', method: 'GET', path: '/v1/nothing' },
  { on: 'tcp', method: 'PATCH', path: '/v1/secrets' },
  { on: 'tcp', method: 'GET', path: '/v1/secrets', headers: { authorization: 'Bearer sak_0000000000000000_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' } },
  { on: 'tcp', method: 'GET', path: '/v1/secrets', headers: { authorization: 'Basic YTpi' } },
  { on: 'tcp', method: 'GET', path: '/metrics' },
  { on: 'tcp', method: 'GET', path: '/metrics', key: 'auditor' },
  { on: 'tcp', method: 'GET', path: '/metrics', key: 'teamAdmin' },
  { on: 'tcp', method: 'GET', path: '/v1/secrets', key: 'admin' },
  { on: 'tcp', method: 'GET', path: '/v1/secrets', key: 'operator' },
  { on: 'tcp', method: 'GET', path: '/v1/secrets', key: 'auditor' },
  { on: 'tcp', method: 'POST', path: '/v1/secrets', key: 'operator', body: { name: 'tcp-s', value: REAL, hosts: ['a.example'] } },
  { on: 'tcp', method: 'POST', path: '/v1/secrets', key: 'auditor', body: { name: 'tcp-s', value: REAL, hosts: ['a.example'] } },
  { on: 'tcp', method: 'POST', path: '/v1/secrets', key: 'operator', body: { bogus: true } },
  { on: 'tcp', method: 'POST', path: '/v1/secrets', key: 'admin', body: { name: 'tcp-s', value: REAL, hosts: ['a.example'] } },
  { on: 'tcp', method: 'POST', path: '/v1/secrets/tcp-s/rotate', key: 'operator', body: { value: `${REAL}-2` } },
  { on: 'tcp', method: 'DELETE', path: '/v1/secrets/tcp-s', key: 'operator' },
  { on: 'tcp', method: 'POST', path: '/v1/sandboxes', key: 'auditor', body: { name: 'tcp-box' } },
  { on: 'tcp', method: 'POST', path: '/v1/sandboxes', key: 'operator', body: { name: 'tcp-box', secrets: { T: 'tcp-s' } } },
  { on: 'tcp', method: 'GET', path: '/v1/sandboxes/tcp-box/env', key: 'auditor' },
  { on: 'tcp', method: 'GET', path: '/v1/log', key: 'auditor' },
  { on: 'tcp', method: 'GET', path: '/v1/audit', key: 'operator' },
  { on: 'tcp', method: 'GET', path: '/v1/audit', key: 'auditor' },
  { on: 'tcp', method: 'GET', path: '/v1/ca', key: 'auditor' },
  { on: 'tcp', method: 'GET', path: '/v1/providers', key: 'auditor' },
  { on: 'tcp', method: 'POST', path: '/v1/secrets/tcp-s/reveal', key: 'admin', body: { reason: 'incident 2: vendor check' } },
  { on: 'tcp', method: 'POST', path: '/v1/secrets/tcp-s/reveal', key: 'glass', body: { reason: 'incident 2: vendor check' } },
  { on: 'tcp', method: 'POST', path: '/v1/secrets/tcp-s/reveal', key: 'glass', body: { reason: 'incident 2: vendor check', environment: 'staging' } },
  { on: 'tcp', method: 'POST', path: '/v1/secrets/nope/reveal', key: 'glass', body: { reason: 'incident 2: vendor check' } },
  { on: 'tcp', method: 'GET', path: '/v1/secrets', key: 'admin', headers: { 'standin-tenant': 'team-c' } },
  { on: 'tcp', method: 'GET', path: '/v1/secrets', key: 'teamAdmin', headers: { 'standin-tenant': 'team-c' } },
  { on: 'tcp', method: 'GET', path: '/v1/secrets', key: 'teamAdmin' },
  { on: 'tcp', method: 'GET', path: '/v1/secrets/svc', key: 'teamAdmin' },
  { on: 'tcp', method: 'DELETE', path: '/v1/sandboxes/tcp-box', key: 'operator' },
  { on: 'tcp', method: 'DELETE', path: '/v1/secrets/tcp-s', key: 'admin' },
  { on: 'tcp', method: 'DELETE', path: '/v1/secrets/tcp-s', key: 'admin' },
];

// What a client can rely on, without the parts that differ per run (ids, times, tokens).
function observe(r: Reply): Record<string, unknown> {
  const type = String(r.headers['content-type'] ?? '');
  const o: Record<string, unknown> = {
    status: r.status,
    type,
    cacheControl: r.headers['cache-control'] ?? null,
    nosniff: r.headers['x-content-type-options'] ?? null,
    wwwAuthenticate: r.headers['www-authenticate'] ?? null,
  };
  if (type.startsWith('application/problem+json')) {
    const p = r.json() as { type: string; title: string; status: number; code: string; detail?: string; problems?: { field: string; message: string }[] };
    o.problem = { type: p.type, title: p.title, status: p.status, code: p.code, hasDetail: p.detail !== undefined, fields: p.problems?.map((x) => x.field).sort() ?? null };
  } else if (type.startsWith('application/json') && r.text !== '') {
    const v = r.json();
    o.shape = Array.isArray(v) ? ['array', v.length, v[0] === undefined ? null : Object.keys(v[0] as object).sort()] : Object.keys(v as object).sort();
  } else {
    o.bytes = r.text.length > 0;
  }
  return o;
}

function send(step: Step): Promise<Reply> {
  const target = step.on === 'unix' ? sock : tcp;
  const headers: Record<string, string> = { ...step.headers };
  if (step.key !== undefined) headers.authorization = `Bearer ${keys[step.key]}`;
  if (step.body !== undefined) {
    const b = jsonBody(step.body);
    return call(target, step.method, step.path, { body: b.body, headers: { ...b.headers, ...headers } });
  }
  if (step.raw !== undefined) return call(target, step.method, step.path, { body: step.raw.body, headers: { 'content-type': step.raw.type, ...headers } });
  return call(target, step.method, step.path, { headers });
}

/** Raw requests a client library would not send: absolute-form, duplicated headers, bad framing. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        s.destroy();
        resolve(got.split('\r\n')[0] ?? '');
      }
    });
    s.on('end', () => resolve(got.split('\r\n')[0] ?? ''));
    s.on('error', reject);
  });
}

function compare(name: string, actual: unknown): void {
  const file = join(FIXTURES, name);
  if (UPDATE) writeFileSync(file, `${JSON.stringify(actual, null, 1)}\n`);
  expect(actual).toEqual(JSON.parse(readFileSync(file, 'utf8')));
}

describe('control API contract (captured before the move to fastify)', () => {
  it('answers the script exactly as before', async () => {
    const seen: Record<string, unknown>[] = [];
    for (const step of SCRIPT) {
      const r = await send(step);
      // The one reply that may hold a value: break glass, for the key granted it.
      if (!(step.key === 'glass' && r.status === 200)) expect(r.text, `${step.method} ${step.path}`).not.toContain(REAL);
      seen.push({ [`${step.on} ${step.method} ${step.path}${step.key === undefined ? '' : ` as ${step.key}`}`]: observe(r) });
    }
    const port = tcp.port;
    const admin = `Authorization: Bearer ${keys.admin}\r\n`;
    const rawLines = {
      absoluteForm: await raw(port, `GET http://127.0.0.1:${port}/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      doubleSlash: await raw(port, 'GET //healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      twoAuthorizations: await raw(port, `GET /v1/secrets HTTP/1.1\r\nHost: x\r\n${admin}${admin}Connection: close\r\n\r\n`),
      twoTenants: await raw(port, `GET /v1/secrets HTTP/1.1\r\nHost: x\r\n${admin}Standin-Tenant: default\r\nStandin-Tenant: default\r\nConnection: close\r\n\r\n`),
      declaredTooLarge: await raw(port, `POST /v1/secrets HTTP/1.1\r\nHost: x\r\n${admin}Content-Type: application/json\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n{`),
      garbage: await raw(port, 'NOT A REQUEST\r\n\r\n'),
    };
    compare('contract-before.json', { steps: seen, raw: rawLines });
    expect(logs.join('')).not.toContain(REAL);
  });

  it('documents the same paths, operations, parameters, bodies and status codes', async () => {
    const doc = (await call(sock, 'GET', '/openapi.json')).json() as OpenApi;
    compare('openapi-before.json', openApiShape(doc));
  });

  it('serves prom-client metrics with the process and Node runtime families', async () => {
    const m = await call(tcp, 'GET', '/metrics', { headers: { authorization: `Bearer ${keys.auditor}` } });
    expect(m.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const family of ['standin_requests_total', 'standin_control_requests_total', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_utilization_ratio', 'nodejs_gc_duration_seconds']) {
      expect(m.text, family).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
    }
    expect(m.text).toMatch(/^standin_control_requests_total\{operation="createSecret",status="201"\} \d+$/m);
    expect(m.text).toMatch(/^standin_control_requests_total\{operation="unmatched",status="404"\} \d+$/m);
  });

  it('is a self-contained document: every $ref resolves, every operation names its problems', async () => {
    const doc = (await call(sock, 'GET', '/openapi.json')).json() as OpenApi;
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) expect(Object.keys(doc.components.schemas).map((n) => `#/components/schemas/${n}`), ref).toContain(ref);
    for (const [path, methods] of Object.entries(doc.paths)) {
      expect(path).not.toMatch(/:/);
      for (const op of Object.values(methods)) expect(Object.keys(op.responses['4XX']?.content ?? {}), op.operationId).toEqual(['application/problem+json']);
    }
  });
});

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: { additionalProperties?: unknown; required?: string[]; properties?: Record<string, { type?: unknown; writeOnly?: boolean; maxLength?: number; maxItems?: number; maxProperties?: number }> } }> };
  responses: Record<string, { content?: Record<string, unknown> }>;
  security?: unknown[];
}

/** What a client generator reads from the document: no descriptions, no schema layout details. */
function openApiShape(doc: OpenApi): unknown {
  const ops: Record<string, unknown> = {};
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const body = op.requestBody?.content['application/json']?.schema;
      ops[`${method.toUpperCase()} ${path}`] = {
        operationId: op.operationId,
        parameters: (op.parameters ?? []).map((p) => `${p.in}:${p.name}${p.required === true ? '!' : ''}`).sort(),
        body:
          body === undefined
            ? null
            : {
                additionalProperties: body.additionalProperties ?? null,
                required: [...(body.required ?? [])].sort(),
                properties: Object.fromEntries(
                  Object.entries(body.properties ?? {})
                    .sort(([a], [b]) => a.localeCompare(b))
                    .map(([k, v]) => [k, { type: v.type, writeOnly: v.writeOnly ?? false, max: v.maxLength ?? v.maxItems ?? v.maxProperties ?? null }]),
                ),
              },
        responses: Object.fromEntries(Object.entries(op.responses).map(([code, r]) => [code, Object.keys(r.content ?? {}).sort()])),
        public: Array.isArray(op.security) && op.security.length === 0,
      };
    }
  }
  return { openapi: doc.openapi, operations: ops, schemas: Object.keys(doc.components.schemas).sort() };
}
