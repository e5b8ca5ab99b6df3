import type { Statement } from 'better-sqlite3';
import { UsageError } from '../errors.js';
import type { Db } from './database.js';
import type { AuditEvent, AuditFilter } from './types.js';
import { checkActor } from './validate.js';

export interface AuditRow {
  id: number;
  at: number;
  tenant: string;
  actor: string;
  action: string;
  target: string;
  detail: string;
}

/**
 * The audit log: one row per lifecycle event. Repositories call `record` inside the same
 * transaction as the change it describes, so the log never claims a change that was rolled back
 * and no change happens without its row. Callers put names, versions and env names in `detail`,
 * never a value, a proxy key or a token.
 */
export class AuditRepo {
  readonly #clock: () => number;
  readonly #insert: Statement<[number, string, string, string, string, string]>;
  readonly #list: Statement<AuditParams, AuditRow>;

  constructor(db: Db, clock: () => number) {
    this.#clock = clock;
    this.#insert = db.prepare('INSERT INTO audit (at, tenant, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)');
    // Newest `limit` rows, handed back oldest first like the network log.
    this.#list = db.prepare(
      `SELECT id, at, tenant, actor, action, target, detail FROM
         (SELECT * FROM audit WHERE at >= @since
            AND (@tenant IS NULL OR tenant = @tenant)
            AND (@action IS NULL OR action = @action)
            AND (@actionPrefix IS NULL OR substr(action, 1, length(@actionPrefix)) = @actionPrefix)
            AND (@target IS NULL OR target = @target COLLATE NOCASE)
            AND (@actor IS NULL OR actor = @actor)
          ORDER BY id DESC LIMIT @limit)
       ORDER BY id`,
    );
  }

  record(tenant: string, actor: string, action: string, target: string, detail: Record<string, unknown> = {}): void {
    this.#insert.run(this.#clock(), tenant, checkActor(actor), action, target, JSON.stringify(detail));
  }

  /** Events of `tenant`, or of every tenant with `filter.allTenants`. */
  list(tenant: string, filter: AuditFilter = {}): AuditEvent[] {
    return this.#list.all(auditParams(tenant, filter)).map(toAuditEvent);
  }
}

/** The checked parameters of an audit query (both backends run the same filter). */
export function auditParams(tenant: string, filter: AuditFilter = {}): AuditParams {
  const { limit, since } = filter;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new UsageError('audit limit must be a non-negative integer');
  }
  if (since !== undefined && !Number.isFinite(since)) throw new UsageError('audit since must be a time');
  const action = text(filter.action, 'action');
  const prefix = action?.endsWith('*') === true ? action.slice(0, -1) : null;
  return {
    since: since ?? Number.MIN_SAFE_INTEGER,
    tenant: filter.allTenants === true ? null : tenant,
    limit: limit ?? -1,
    action: prefix === null ? action : null,
    actionPrefix: prefix,
    target: text(filter.target, 'target'),
    actor: text(filter.actor, 'actor'),
  };
}

export function toAuditEvent(r: AuditRow): AuditEvent {
  return { id: r.id, at: r.at, tenant: r.tenant, actor: r.actor, action: r.action, target: r.target, detail: parseDetail(r.detail) };
}

export interface AuditParams {
  since: number;
  tenant: string | null;
  limit: number;
  action: string | null;
  actionPrefix: string | null;
  target: string | null;
  actor: string | null;
}

function text(v: string | undefined, what: string): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`audit ${what} filter is empty`);
  return v.trim();
}

function parseDetail(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // A damaged detail must not hide the rest of the audit trail.
  }
  return {};
}
