import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { loadOrCreateCa } from '../../src/ca/authority.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { queryNetLog } from '../../src/netlog/query.js';
import { createNetLogWriter } from '../../src/netlog/writer.js';
import type { NetLogQuery, NetLogWriter, StoredNetLogRow } from '../../src/netlog/types.js';
import { parseAllowDest } from '../../src/policy/address.js';
import type { ProxyLimits } from '../../src/proxy/deps.js';
import { SecretValue } from '../../src/secret-value.js';
import { openDatabase } from '../../src/store/database.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { basicAuth } from '../helpers/client.js';
import { UPSTREAM_HOSTS } from '../helpers/harness.js';
import { TEST_CA, startUpstream, type Upstream } from '../helpers/upstream.js';
import { startLabUpstream, type LabUpstream } from './lab-upstream.js';

/**
 * The adversarial suite's gateway: the same in-process wiring as test/helpers/harness.ts (real
 * sockets, TLS, SQLite, pino), plus a hostile "lab" upstream (HTTPS and plain HTTP) on two more
 * loopback ports, extra `--resolve` pins, and optionally `--allow-dest 127.0.0.1` (every port).
 */
export interface AdvOptions {
  limits?: Partial<ProxyLimits>;
  resolve?: Record<string, string>;
  /** Adds `--allow-dest 127.0.0.1` (all ports), on top of the per-port entries. */
  allowAllLoopbackPorts?: boolean;
  /** More `--allow-dest` entries (a test's own server on loopback). */
  allowDest?: string[];
}

export interface Adv {
  home: string;
  store: SqliteStore;
  upstream: Upstream;
  lab: LabUpstream;
  gateway: Gateway;
  netlog: NetLogWriter;
  caPem: string;
  /** Gateway port. */
  gw: number;
  /** Everything the gateway's logger wrote. */
  logs(): string;
  rows(q?: NetLogQuery): StoredNetLogRow[];
  /** `Proxy-Authorization` value of a sandbox. */
  auth(sandbox: string): string;
  proxyUrl(sandbox: string): string;
  /** Requests that reached either HTTPS upstream (the echo and the lab). */
  upstreamCount(): number;
  close(): Promise<void>;
}

export const EXTRA_HOSTS = ['standin.test', 'evil-standin.test', 'api.standin.test.evil.net', 'xn--pi-7ka.standin.test', 'deep.api.standin.test'];

export async function startAdv(options: AdvOptions = {}): Promise<Adv> {
  const home = mkdtempSync(join(tmpdir(), 'standin-adv-'));
  const db = openDatabase(join(home, 'standin.db'));
  const store = new SqliteStore(db, randomBytes(32));
  const { ca } = await loadOrCreateCa(join(home, 'ca'));
  const upstream = await startUpstream();
  const lab = await startLabUpstream();
  const netlog = createNetLogWriter(db, { intervalMs: 20 });
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const resolve = new Map<string, string>([
    ...[...UPSTREAM_HOSTS, ...EXTRA_HOSTS].map((h): [string, string] => [h, '127.0.0.1']),
    ...Object.entries(options.resolve ?? {}),
  ]);
  const allowDest = [`127.0.0.1:${upstream.port}`, `127.0.0.1:${lab.port}`, `127.0.0.1:${lab.httpPort}`];
  if (options.allowAllLoopbackPorts) allowDest.push('127.0.0.1');
  allowDest.push(...(options.allowDest ?? []));
  const gateway = await startGateway({
    listen: { host: '127.0.0.1', port: 0 },
    store,
    netlog,
    ca,
    upstreamCa: [readFileSync(TEST_CA, 'utf8')],
    resolve,
    allowDest: allowDest.map(parseAllowDest),
    logger,
    limits: options.limits,
  });
  return {
    home,
    store,
    upstream,
    lab,
    gateway,
    netlog,
    caPem: ca.certPem,
    gw: gateway.address.port,
    logs: () => chunks.join(''),
    rows: (q = {}) => {
      netlog.flush();
      return queryNetLog(db, { limit: 100_000, ...q });
    },
    auth: (sandbox) => basicAuth(sandbox, store.proxyKey(sandbox)),
    proxyUrl: (sandbox) => `http://${sandbox}:${store.proxyKey(sandbox)}@127.0.0.1:${gateway.address.port}`,
    upstreamCount: () => upstream.received.length + lab.received.length + lab.httpReceived.length,
    close: async () => {
      await gateway.close();
      await upstream.close();
      await lab.close();
      netlog.close();
      store.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

// ---- planted secrets -------------------------------------------------------------------------

export const REAL = {
  bearer: 'sk-live-REALbearer-7Qw9ZxY2vTT',
  header: 'real-header-key-Hd83KlmN0pQQ',
  basic: 'acct-4411:real-basic-pass-Bz71',
  query: 'real/query+val=ue&Qx9 zz',
  wild: 'real-wildcard-secret-W1ld9RR',
  betaOnly: 'real-beta-only-secret-B3taXX',
  apex443: 'real-default-port-secret-P443',
  lab: 'real-lab-secret-L4bbMM',
} as const;

/** Every form of a planted value that must never reach the sandbox or a log. */
export function leakForms(): string[] {
  const forms = new Set<string>();
  for (const v of Object.values(REAL)) {
    forms.add(v);
    forms.add(encodeURIComponent(v));
    forms.add(Buffer.from(v).toString('base64'));
  }
  // The distinctive parts, so that a partly encoded or truncated reflection is caught too.
  for (const part of ['REALbearer-7Qw9ZxY2vTT', 'Hd83KlmN0pQQ', 'real-basic-pass-Bz71', 'W1ld9RR', 'B3taXX', 'secret-P443', 'L4bbMM']) forms.add(part);
  forms.add('ue&Qx9');
  forms.add('ue%26Qx9');
  return [...forms];
}

const FORMS = leakForms();

/** Fails if any form of a planted real value is in `text`. */
export function expectNoLeak(text: string, where = 'text'): void {
  for (const f of FORMS) {
    if (text.includes(f)) expect.fail(`${where} contains a planted secret form ${JSON.stringify(f)}: …${text.slice(Math.max(0, text.indexOf(f) - 80), text.indexOf(f) + f.length + 40)}…`);
  }
}

/** The response texts, the pino output and every network-log row are free of planted values. */
export function expectCleanEverywhere(a: Adv, ...texts: string[]): void {
  texts.forEach((t, i) => expectNoLeak(t, `response ${i}`));
  expectNoLeak(a.logs(), 'pino output');
  expectNoLeak(JSON.stringify(a.rows()), 'network log');
}

export interface Planted {
  port: number;
  /** `api.standin.test:PORT`, the scope of most secrets. */
  api: string;
  other: string;
  alpha: {
    bearer: string;
    bearer2: string;
    header: string;
    basic: string;
    query: string;
    wild: string;
    apex443: string;
    /** bearer, scoped to api.standin.test:LABPORT (the hostile lab upstream). */
    lab: string;
  };
  beta: { bearer: string; betaOnly: string };
}

/**
 * Secrets of each scheme scoped to api.standin.test:PORT (plus a wildcard one, one for
 * other.standin.test and one without a port), and two sandboxes: `alpha` binds them all (the
 * bearer secret twice), `beta` binds the bearer secret and its own.
 */
export function plant(a: Adv): Planted {
  const port = a.upstream.port;
  const api = `api.standin.test:${port}`;
  const other = `other.standin.test:${port}`;
  const mk = (name: string, scheme: Parameters<SqliteStore['createSecret']>[0]['scheme'], hosts: string[], value: string): void =>
    void a.store.createSecret({ name, scheme, hosts, value: new SecretValue(value), actor: 'adv' });
  mk('bearer-s', { kind: 'bearer' }, [api], REAL.bearer);
  mk('header-s', { kind: 'header', header: 'x-api-key' }, [api], REAL.header);
  mk('basic-s', { kind: 'basic' }, [api], REAL.basic);
  mk('query-s', { kind: 'query', param: 'key' }, [api], REAL.query);
  mk('wild-s', { kind: 'bearer' }, [`*.standin.test:${port}`], REAL.wild);
  mk('beta-only', { kind: 'bearer' }, [other], REAL.betaOnly);
  mk('apex-443', { kind: 'bearer' }, ['api.standin.test'], REAL.apex443);
  mk('lab-s', { kind: 'bearer' }, [`api.standin.test:${a.lab.port}`], REAL.lab);
  const alpha = a.store.createSandbox({
    name: 'alpha',
    allowHosts: [],
    bindings: [
      { env: 'BEARER', secretName: 'bearer-s', tokenPrefix: 'sk-' },
      { env: 'BEARER2', secretName: 'bearer-s' },
      { env: 'HEADER', secretName: 'header-s' },
      { env: 'BASIC', secretName: 'basic-s' },
      { env: 'QUERY', secretName: 'query-s' },
      { env: 'WILD', secretName: 'wild-s' },
      { env: 'APEX', secretName: 'apex-443' },
      { env: 'LAB', secretName: 'lab-s' },
    ],
    actor: 'adv',
  });
  const t = Object.fromEntries(alpha.bindings.map((b) => [b.env, b.token]));
  const beta = a.store.createSandbox({
    name: 'beta',
    allowHosts: [],
    bindings: [
      { env: 'BEARER', secretName: 'bearer-s' },
      { env: 'BETA_ONLY', secretName: 'beta-only' },
    ],
    actor: 'adv',
  });
  const b = Object.fromEntries(beta.bindings.map((x) => [x.env, x.token]));
  return {
    port,
    api,
    other,
    alpha: { bearer: t.BEARER!, bearer2: t.BEARER2!, header: t.HEADER!, basic: t.BASIC!, query: t.QUERY!, wild: t.WILD!, apex443: t.APEX!, lab: t.LAB! },
    beta: { bearer: b.BEARER!, betaOnly: b.BETA_ONLY! },
  };
}
