import { checkActor } from '../validate.js';
import type { Queryable } from './pg-db.js';
import type { PgKeyRing } from './pg-key-ring.js';

/** What the PostgreSQL repositories work with: where reads go, how writes are made, the key. */
export interface PgCtx {
  /** Reads: the pool, or the transaction's client inside `AsyncStore.transaction`. */
  q: Queryable;
  /** A write transaction (lock, change sequence, NOTIFY), or a savepoint inside one. */
  write<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  keys: PgKeyRing;
  clock: () => number;
}

/** One audit row, in the caller's transaction (never a value, key or token in `detail`). */
export async function recordAudit(q: Queryable, at: number, tenant: string, actor: string, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
  await q.query('INSERT INTO audit (at, tenant, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)', [
    at,
    tenant,
    checkActor(actor),
    action,
    target,
    JSON.stringify(detail),
  ]);
}
