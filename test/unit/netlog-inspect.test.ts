import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { explainRow } from '../../src/netlog/explain.js';
import { getNetLogRecord, iterateNetLog, queryNetLog } from '../../src/netlog/query.js';
import { createLogPruner } from '../../src/netlog/retention.js';
import { netLogStats } from '../../src/netlog/stats.js';
import type { NetLogRow } from '../../src/netlog/types.js';
import { checkRecordedHead, verifyChain, verifyLog } from '../../src/netlog/verify.js';
import { createNetLogWriter } from '../../src/netlog/writer.js';
import { openDatabase, type Db } from '../../src/store/database.js';
import { netLogRows } from '../helpers/netlog-rows.js';

let dir: string;
let db: Db;
const { row } = netLogRows(1_700_000_000_000);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-inspect-'));
  db = openDatabase(path.join(dir, 'standin.db'));
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});


function write(rows: NetLogRow[]): void {
  const w = createNetLogWriter(db, { intervalMs: 60_000 });
  for (const r of rows) w.record(r);
  w.close();
}

describe('filters', () => {
  it('select by host glob, status, secret (name or name@version), method and time window', () => {
    const t0 = 1_800_000_000_000;
    write([
      row({ host: 'api.openai.com', at: t0, decision: 'swapped', secrets: ['openai@2'] }),
      row({ host: 'uploads.openai.com', at: t0 + 1000, decision: 'swapped', secrets: ['openai@3'], method: 'POST' }),
      row({ host: 'api.github.com', at: t0 + 2000, status: 403, decision: 'token_misuse', secrets: ['openai@3'], errorCode: 'GW_TOKEN_SCOPE' }),
      row({ host: 'openai.com.evil.test', at: t0 + 3000, method: 'CONNECT', status: 403, decision: 'denied', errorCode: 'GW_EGRESS_DENIED' }),
      row({ host: 'open_ai.test', at: t0 + 4000, secrets: ['open_ai@1'] }),
    ]);
    const hosts = (q: Parameters<typeof queryNetLog>[1]): string[] => queryNetLog(db, q).map((r) => r.host);
    expect(hosts({ host: '*.openai.com' })).toEqual(['api.openai.com', 'uploads.openai.com']);
    expect(hosts({ host: 'API.OPENAI.COM' })).toEqual(['api.openai.com']);
    expect(hosts({ status: 403 })).toEqual(['api.github.com', 'openai.com.evil.test']);
    expect(hosts({ secret: 'openai' })).toEqual(['api.openai.com', 'uploads.openai.com', 'api.github.com']);
    expect(hosts({ secret: 'openai@3' })).toEqual(['uploads.openai.com', 'api.github.com']);
    // `_` is not a LIKE wildcard here: `open_ai` does not match `openai`'s rows, nor the reverse.
    expect(hosts({ secret: 'open_ai' })).toEqual(['open_ai.test']);
    expect(hosts({ method: 'connect' })).toEqual(['openai.com.evil.test']);
    expect(hosts({ since: t0 + 1000, until: t0 + 3000 })).toEqual(['uploads.openai.com', 'api.github.com']);
    expect([...iterateNetLog(db, { decision: 'swapped' })].map((r) => r.host)).toEqual(['api.openai.com', 'uploads.openai.com']);
  });

  it('stats count per sandbox and host, refusals by code, swaps per secret@version, bytes', () => {
    write([
      row({ decision: 'swapped', secrets: ['openai@2'], bytesIn: 100 }),
      row({ decision: 'swapped', secrets: ['openai@2'], bytesIn: 50 }),
      row({ sandbox: 'other', host: 'x.test', decision: 'denied', status: 403, errorCode: 'GW_EGRESS_DENIED' }),
      row({ sandbox: 'other', tenant: 'acme' }),
    ]);
    const s = netLogStats(db, { tenant: 'default' });
    expect(s.total).toEqual({ requests: 3, bytesIn: 160, bytesOut: 3, refused: 1 });
    expect(s.bySandbox).toEqual([
      { key: 'agent', requests: 2, bytesIn: 150, bytesOut: 2 },
      { key: 'other', requests: 1, bytesIn: 10, bytesOut: 1 },
    ]);
    expect(s.byHost.map((h) => h.key)).toEqual(['api.example.com', 'x.test']);
    expect(s.refusals).toEqual([{ key: 'GW_EGRESS_DENIED', requests: 1 }]);
    expect(s.swaps).toEqual([{ key: 'openai@2', requests: 2 }]);
  });
});

describe('hash chain', () => {
  it('chains completed rows only, sealing a forwarded row when it completes', () => {
    const w = createNetLogWriter(db, { intervalMs: 60_000 });
    const open = row({ complete: false, decision: 'swapped', secrets: ['s@1'] });
    w.record(open);
    w.flush();
    w.record(row());
    w.flush();
    expect(getNetLogRecord(db, open.requestId)?.chainSeq).toBeNull();
    expect(verifyLog(db)).toMatchObject({ ok: true, verified: 1, unsealed: 1 });
    w.record({ ...open, complete: true, bytesIn: 999 });
    w.close();
    const sealed = getNetLogRecord(db, open.requestId);
    expect(sealed).toMatchObject({ chainSeq: 2, bytesIn: 999, complete: true });
    expect(verifyLog(db)).toMatchObject({ ok: true, verified: 2, unsealed: 0, chains: [{ gateway: 'local', head: { seq: 2, hash: sealed?.hash } }] });
  });

  it('verifies rows whatever characters they hold (the writer and verify serialise alike)', () => {
    write([
      row({ sandbox: 'ünïcode-😀', path: '/a\nb\t"c"\\d\u2028e\u0000', detail: { protocol: 'h2', applied: [{ secret: 's', version: 1, placement: 'X-Key: [secret] \ud800' }], scrubbed: true, reason: 'é' } }),
      row({ tenant: null, sandbox: null, upstreamIp: null, bytesIn: 1.5, durationMs: 0 }),
    ]);
    expect(verifyChain(db, 'local')).toMatchObject({ ok: true, verified: 2 });
  });

  it('never rewrites a sealed row', () => {
    const r = row();
    write([r]);
    write([{ ...r, status: 500 }, { ...r, complete: false }]);
    expect(getNetLogRecord(db, r.requestId)?.status).toBe(200);
    expect(verifyChain(db, 'local')).toMatchObject({ ok: true, verified: 1 });
  });

  it('reports the first changed, removed or reordered row', () => {
    write(Array.from({ length: 10 }, () => row()));
    expect(verifyChain(db, 'local').ok).toBe(true);

    db.prepare("UPDATE network_log SET path = '/edited' WHERE chain_seq = 4").run();
    let r = verifyChain(db, 'local');
    expect(r).toMatchObject({ ok: false, problems: 1, first: { kind: 'changed', seq: 4 } });
    db.prepare("UPDATE network_log SET path = '/v1/models' WHERE chain_seq = 4").run();
    expect(verifyChain(db, 'local').ok).toBe(true);

    db.prepare('UPDATE network_log SET chain_seq = -1 WHERE chain_seq = 3').run();
    db.prepare('UPDATE network_log SET chain_seq = 3 WHERE chain_seq = 6').run();
    db.prepare('UPDATE network_log SET chain_seq = 6 WHERE chain_seq = -1').run();
    r = verifyChain(db, 'local');
    expect(r).toMatchObject({ ok: false, first: { kind: 'changed', seq: 3 } });
    db.prepare('UPDATE network_log SET chain_seq = -1 WHERE chain_seq = 3').run();
    db.prepare('UPDATE network_log SET chain_seq = 3 WHERE chain_seq = 6').run();
    db.prepare('UPDATE network_log SET chain_seq = 6 WHERE chain_seq = -1').run();

    db.prepare('DELETE FROM network_log WHERE chain_seq = 7').run();
    r = verifyChain(db, 'local');
    expect(r).toMatchObject({ ok: false, first: { kind: 'removed', seq: 7 } });
    expect(r.first?.message).toContain('position 7 of gateway local was removed');
  });

  it('still verifies after retention pruned its oldest rows (anchor), and pruning goes in chunks', () => {
    write(Array.from({ length: 25 }, () => row()));
    const prune = createLogPruner(db, { maxRows: 5, maxAgeMs: 1e15 }, () => 1_900_000_000_000, 8);
    expect(prune()).toBe(true); // 8 of the 20 over the bound; more to do
    expect(verifyChain(db, 'local')).toMatchObject({ ok: true, anchor: 8, verified: 17 });
    while (prune());
    expect(verifyChain(db, 'local')).toMatchObject({ ok: true, anchor: 20, verified: 5 });
    write([row()]);
    expect(verifyChain(db, 'local')).toMatchObject({ ok: true, verified: 6, head: { seq: 26 } });
    // Deleting the oldest remaining row without an anchor is a removal.
    db.prepare('DELETE FROM network_log WHERE chain_seq = 21').run();
    expect(verifyChain(db, 'local').first?.kind).toBe('removed');
  });

  it('checks a recorded head: the newest rows cut off, or the chain recomputed, show against it', () => {
    write(Array.from({ length: 5 }, () => row()));
    const head = verifyChain(db, 'local').head;
    write([row()]);
    expect(checkRecordedHead(db, head, verifyLog(db))).toBeUndefined();
    // Cutting off the end leaves a chain that verifies on its own, but not against the head.
    db.prepare('DELETE FROM network_log WHERE chain_seq >= 4').run();
    expect(verifyChain(db, 'local').ok).toBe(true);
    expect(checkRecordedHead(db, head, verifyLog(db))).toContain('the newest rows were removed');
    // A recomputed hash at the recorded position.
    expect(checkRecordedHead(db, { seq: 2, hash: 'f'.repeat(64) }, verifyLog(db))).toContain('no longer has the recorded hash');
    // Pruned since: the anchor still names the hash it was cut at.
    const at2 = getNetLogRecord(db, queryNetLog(db, {})[1]!.requestId)!;
    createLogPruner(db, { maxRows: 1, maxAgeMs: 1e15 }, () => 0)();
    expect(checkRecordedHead(db, { seq: 2, hash: at2.hash! }, verifyLog(db))).toBeUndefined();
    expect(checkRecordedHead(db, { seq: 2, hash: 'e'.repeat(64) }, verifyLog(db))).toContain('pruned with another hash');
  });

  it('prunes by age as a prefix of the chain only', () => {
    write([row({ at: 1000 }), row({ at: 2000 }), row({ at: 5000 }), row({ at: 1500 })]);
    createLogPruner(db, { maxRows: 100, maxAgeMs: 1000 }, () => 3500)();
    // 1500 is old, but it comes after a younger row in the chain: it waits for the next pruning.
    expect(queryNetLog(db, {}).map((r) => r.at)).toEqual([1500, 5000]);
    expect(verifyChain(db, 'local').ok).toBe(true);
  });
});

describe('one chain per gateway', () => {
  it('gives each gateway its own positions, verifies every chain, and catches a row moved between them', () => {
    const a = createNetLogWriter(db, { intervalMs: 60_000, gatewayId: 'gw-a' });
    const b = createNetLogWriter(db, { intervalMs: 60_000, gatewayId: 'gw-b' });
    for (let i = 0; i < 6; i++) {
      (i % 2 === 0 ? a : b).record(row());
      a.flush();
      b.flush();
    }
    a.record(row());
    a.close();
    b.close();
    const rows = queryNetLog(db, {});
    expect(rows.map((r) => r.gateway)).toEqual(['gw-a', 'gw-b', 'gw-a', 'gw-b', 'gw-a', 'gw-b', 'gw-a']);
    expect(queryNetLog(db, { gateway: 'gw-b' })).toHaveLength(3);
    const report = verifyLog(db);
    expect(report).toMatchObject({ ok: true, verified: 7, chains: [{ gateway: 'gw-a', head: { seq: 4 } }, { gateway: 'gw-b', head: { seq: 3 } }] });
    // A head without its gateway is ambiguous with two chains; with it, it is checked.
    const headB = report.chains[1]!.head;
    expect(checkRecordedHead(db, headB, report)).toContain('several chains');
    expect(checkRecordedHead(db, { gateway: 'gw-b', ...headB }, report)).toBeUndefined();
    expect(checkRecordedHead(db, { gateway: 'gw-c', ...headB }, report)).toContain('no chain of gateway gw-c');
    // Relabelled as gw-a's (at a free position): the hash covers the gateway.
    db.prepare("UPDATE network_log SET gateway = 'gw-a', chain_seq = 5 WHERE gateway = 'gw-b' AND chain_seq = 3").run();
    const moved = verifyLog(db);
    expect(moved.ok).toBe(false);
    expect(moved.chains.find((c) => c.gateway === 'gw-a')?.first).toMatchObject({ kind: 'changed', seq: 5 });
    expect(moved.first?.message).toMatch(/position 5 of gateway gw-a\) does not match its hash/);
  });

  it('keeps rows from before gateway ids as a chain of their own, hashed as they were', () => {
    write([row(), row()]);
    // What a database migrated from before gateway ids holds: rows with gateway '' chained without it.
    db.prepare("UPDATE network_log SET gateway = ''").run();
    const legacy = verifyChain(db, '');
    expect(legacy.ok).toBe(false); // hashed with 'local' in the text: relabelling is caught
    db.prepare("UPDATE network_log SET gateway = 'local'").run();
    expect(verifyLog(db).ok).toBe(true);
  });

  it('prunes each chain as a prefix of its own, with an anchor per gateway', () => {
    const a = createNetLogWriter(db, { intervalMs: 60_000, gatewayId: 'gw-a' });
    const b = createNetLogWriter(db, { intervalMs: 60_000, gatewayId: 'gw-b' });
    for (let i = 0; i < 10; i++) {
      a.record(row());
      b.record(row());
      a.flush();
      b.flush();
    }
    a.close();
    b.close();
    while (createLogPruner(db, { maxRows: 6, maxAgeMs: 1e15 }, () => 1_900_000_000_000, 4)());
    const r = verifyLog(db);
    expect(r.ok).toBe(true);
    expect(r.verified).toBe(6);
    expect(r.chains.map((c) => [c.gateway, c.anchor, c.head.seq])).toEqual([['gw-a', 7, 10], ['gw-b', 7, 10]].map(([g, anc, h]) => [g, anc, h]));
  });
});

describe('explain', () => {
  it('names the rule that refused and what to change', () => {
    const refused = row({ host: 'api.github.com', decision: 'token_misuse', status: 403, secrets: ['openai@3'], errorCode: 'GW_TOKEN_SCOPE',
      detail: { protocol: 'http/1.1', applied: [], scrubbed: false, reason: "token used outside its secret's hosts" } });
    const swapped = row({ decision: 'swapped', secrets: ['openai@3'],
      detail: { protocol: 'http/1.1', applied: [{ secret: 'openai', version: 3, placement: 'Authorization: Bearer [secret]' }], scrubbed: true } });
    write([refused, swapped, row()]);
    const a = explainRow(getNetLogRecord(db, refused.requestId)!);
    expect(a.summary).toContain('scope rule');
    expect(a.happened.join(' ')).toContain('openai@3, whose hosts do not include api.github.com');
    expect(a.fix.join(' ')).toContain('--hosts including api.github.com');
    const b = explainRow(getNetLogRecord(db, swapped.requestId)!);
    expect(b.summary).toBe('Swapped: openai@3 applied, answered 200.');
    expect(b.happened).toContain('A stand-in of openai was found and replaced by version 3: Authorization: Bearer [secret].');
    expect(b.happened.join(' ')).toContain('response was scrubbed');
    expect(b.fix).toEqual([]);
    const c = explainRow(queryNetLog(db, {}).map((r) => getNetLogRecord(db, r.requestId)!)[2]!);
    expect(c.happened.join(' ')).toContain('No stand-in was found');
    expect(c.happened.join(' ')).not.toContain('yet the request carried none');
    // The silent non-substitution: a secret is scoped here, and the request went out without its stand-in.
    const silent = row({ detail: { protocol: 'http/1.1', applied: [], scrubbed: true } });
    write([silent]);
    expect(explainRow(getNetLogRecord(db, silent.requestId)!).happened.join(' ')).toContain('A secret of this sandbox is scoped to api.example.com, yet the request carried none of its stand-ins');
  });
  it('is bound to the tenant', () => {
    const r = row({ tenant: 'acme' });
    write([r]);
    expect(getNetLogRecord(db, r.requestId, 'default')).toBeUndefined();
    expect(getNetLogRecord(db, r.requestId, 'acme')?.requestId).toBe(r.requestId);
  });
});

describe('table colour', () => {
  it('colours decisions on a terminal only, after escaping, keeping the columns aligned', async () => {
    const { renderTable, decisionColour, useColour } = await import('../../src/cli/output.js');
    const cols = [
      { header: 'DECISION', value: (r: { d: string }) => r.d, colour: (r: { d: string }) => decisionColour(r.d) },
      { header: 'X', value: () => 'x' },
    ];
    const rows = [{ d: 'swapped' }, { d: 'token_misuse' }, { d: 'allowed' }];
    expect(renderTable(cols, rows, true, false)).not.toContain('\x1b');
    const coloured = renderTable(cols, rows, true, true).split('\n');
    expect(coloured[1]).toBe('\x1b[32mswapped\x1b[0m       x');
    expect(coloured[2]).toBe('\x1b[31mtoken_misuse\x1b[0m  x');
    expect(coloured[3]).toBe('allowed       x');
    // A value from a request cannot bring its own escape: it is escaped before colouring.
    expect(renderTable(cols, [{ d: '\x1b[2J' }], false, true)).toBe('\\x1b[2J  x');
    const tty = { isTTY: true } as NodeJS.WriteStream;
    expect(useColour(tty, {})).toBe(true);
    expect(useColour(tty, { NO_COLOR: '1' })).toBe(false);
    expect(useColour({ isTTY: false } as NodeJS.WriteStream, {})).toBe(false);
  });
});

describe('retention in the writer', () => {
  it('prunes one chunk per turn of the event loop, so writes and requests run in between', async () => {
    const w = createNetLogWriter(db, { intervalMs: 60_000, retention: { maxRows: 10, maxAgeMs: 1e15 }, pruneEvery: 1, pruneChunk: 20 });
    for (let i = 0; i < 100; i++) w.record(row());
    w.flush();
    const count = (): number => (db.prepare('SELECT COUNT(*) AS n FROM network_log').get() as { n: number }).n;
    expect(count()).toBe(80); // the first chunk, synchronously after the batch
    await new Promise((r) => setImmediate(r));
    expect(count()).toBe(60); // the next one, a turn later
    for (let k = 0; k < 10; k++) await new Promise((r) => setImmediate(r));
    expect(count()).toBe(10);
    expect(verifyChain(db, 'local')).toMatchObject({ ok: true, anchor: 90, verified: 10 });
    w.close();
  });
});
