import { createHash } from 'node:crypto';
import type { SandboxInfo, SecretInfo, TokenResolution, UnboundSecret } from '../../model/secrets.js';
import { toSandbox, toSecret, type SandboxRow, type SecretRow } from '../rows.js';
import type { Queryable } from './pg-db.js';
import type { Sample } from './pg-key-ring.js';
import { PG_SANDBOX_COLUMNS, PG_SECRET_COLUMNS } from './pg-sql.js';

/**
 * Everything the request path reads, as of one change sequence number: read in one
 * REPEATABLE READ transaction, so it is exactly the store after commit `seq` (writers bump the
 * sequence under the fleet-wide write lock, in commit order). Frozen: requests share it.
 */
export interface SnapshotState {
  readonly seq: number;
  readonly epoch: number;
  readonly sandboxes: ReadonlyMap<string, SandboxInfo>;
  /** sha256(proxy key) hex -> sandbox id. */
  readonly byKeyHash: ReadonlyMap<string, string>;
  readonly tokens: ReadonlyMap<string, TokenResolution>;
  readonly sandboxTokens: ReadonlyMap<string, readonly string[]>;
  readonly unbound: ReadonlyMap<string, readonly UnboundSecret[]>;
  /** `${secretId}:${version}` -> ciphertext (decrypted on demand, never kept in clear here). */
  readonly ciphertexts: ReadonlyMap<string, Buffer>;
  /** One stored ciphertext: which key opens the database after a rotation. */
  readonly sample: Sample | undefined;
}

// Rows turned into the snapshot between two turns of the event loop: with 10,000 sandboxes a
// reload blocked the request path for 120-280 ms at a time building its maps in one go; in slices
// the longest block is 45-100 ms (what remains is pg parsing results). Nothing is installed
// until the whole state is built, so requests in between still read the previous snapshot.
const ROWS_PER_TURN = 1_000;

export async function loadState(q: Queryable): Promise<SnapshotState> {
  let rows = 0;
  const turn = async (): Promise<void> => {
    if (++rows % ROWS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const seq = (await q.query<{ seq: number }>('SELECT seq FROM store_changes WHERE id = 1'))[0]?.seq ?? 0;
  const epoch = (await q.query<{ epoch: number }>('SELECT epoch FROM master_key_epoch WHERE id = 1'))[0]?.epoch ?? 0;
  const secrets = new Map<string, SecretInfo>();
  for (const r of await q.query<SecretRow>(`SELECT ${PG_SECRET_COLUMNS} FROM secrets s`)) secrets.set(r.id, deepFreeze(toSecret(r)));
  const sandboxes = new Map<string, SandboxInfo>();
  const byKeyHash = new Map<string, string>();
  for (const r of await q.query<SandboxRow & { proxy_key_hash: Buffer }>(`SELECT ${PG_SANDBOX_COLUMNS}, x.proxy_key_hash FROM sandboxes x`)) {
    sandboxes.set(r.id, deepFreeze(toSandbox(r)));
    byKeyHash.set(r.proxy_key_hash.toString('hex'), r.id);
    await turn();
  }
  const tokens = new Map<string, TokenResolution>();
  const sandboxTokens = new Map<string, string[]>();
  for (const b of await q.query<{ sandbox_id: string; env: string; secret_id: string; token: string }>('SELECT sandbox_id, env, secret_id, token FROM bindings ORDER BY sandbox_id, env')) {
    const secret = secrets.get(b.secret_id);
    const sandbox = sandboxes.get(b.sandbox_id);
    if (secret === undefined || sandbox === undefined) continue;
    const version = secret.environments.find((e) => e.name === sandbox.environment)?.currentVersion ?? null;
    tokens.set(b.token, deepFreeze({ token: b.token, sandboxId: b.sandbox_id, env: b.env, secret, version }));
    const list = sandboxTokens.get(b.sandbox_id) ?? [];
    list.push(b.token);
    sandboxTokens.set(b.sandbox_id, list);
    await turn();
  }
  const unbound = new Map<string, UnboundSecret[]>();
  for (const u of await q.query<{ sandbox_id: string; secret_id: string; token: string; unbound_at: number }>('SELECT sandbox_id, secret_id, token, unbound_at FROM recent_unbinds ORDER BY unbound_at')) {
    const secret = secrets.get(u.secret_id);
    if (secret === undefined) continue;
    const list = unbound.get(u.sandbox_id) ?? [];
    list.push(deepFreeze({ secret, token: u.token, unboundAt: u.unbound_at }));
    unbound.set(u.sandbox_id, list);
  }
  const ciphertexts = new Map<string, Buffer>();
  let sample: Sample | undefined;
  for (const v of await q.query<{ secret_id: string; version: number; ciphertext: Buffer }>('SELECT secret_id, version, ciphertext FROM secret_versions')) {
    ciphertexts.set(`${v.secret_id}:${v.version}`, v.ciphertext);
    sample ??= { blob: v.ciphertext, aad: `${v.secret_id}:${v.version}` };
  }
  if (sample === undefined) {
    const s = (await q.query<{ id: string; proxy_key_enc: Buffer }>('SELECT id, proxy_key_enc FROM sandboxes LIMIT 1'))[0];
    if (s !== undefined) sample = { blob: s.proxy_key_enc, aad: `sandbox:${s.id}` };
  }
  for (const list of sandboxTokens.values()) Object.freeze(list);
  for (const list of unbound.values()) Object.freeze(list);
  return { seq, epoch, sandboxes, byKeyHash, tokens, sandboxTokens, unbound, ciphertexts, sample };
}

export function keyHashHex(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
