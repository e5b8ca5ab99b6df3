import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { UsageError } from '../errors.js';
import type { Db } from './database.js';
import { DEFAULT_TENANT } from '../model/secrets.js';
import { printable } from './validate.js';

/**
 * API keys for the control API on TCP. A key is shown once, when created; only its sha256 is
 * stored. A key reads `sak_<16 hex id>_<40 base62>`: the id finds the row, the whole key's hash is
 * compared in constant time, and a key that does not parse or has no row still costs one compare.
 */
export type ApiKeyRole = 'admin' | 'operator' | 'auditor';
export const API_KEY_ROLES: readonly ApiKeyRole[] = ['admin', 'operator', 'auditor'];

export interface ApiKeyInfo {
  id: string;
  name: string;
  role: ApiKeyRole;
  /** The tenant whose secrets, sandboxes and logs the key reaches; no other. */
  tenant: string;
  /** Break-glass permission to read a value back (always audited); off unless granted. */
  canReveal: boolean;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  role: string;
  tenant: string;
  can_reveal: number | boolean;
  key_hash: Buffer;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const KEY = /^sak_([0-9a-f]{16})_([0-9A-Za-z]{40})$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// last_used_at is bookkeeping, not security: write it at most this often per key.
const TOUCH_EVERY_MS = 60_000;

export function isApiKeyRole(s: string): s is ApiKeyRole {
  return (API_KEY_ROLES as readonly string[]).includes(s);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class ApiKeysRepo {
  readonly #clock: () => number;
  readonly #insert: Statement<[string, string, string, string, number, Buffer, number]>;
  readonly #byId: Statement<[string], ApiKeyRow>;
  readonly #activeByName: Statement<[string], ApiKeyRow>;
  readonly #list: Statement<[], ApiKeyRow>;
  readonly #revoke: Statement<[number, string]>;
  readonly #touch: Statement<[number, string]>;
  readonly #dummy = dummyKeyHash();

  constructor(db: Db, clock: () => number = Date.now) {
    this.#clock = clock;
    this.#insert = db.prepare('INSERT INTO api_keys (id, name, role, tenant, can_reveal, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#byId = db.prepare('SELECT * FROM api_keys WHERE id = ? AND revoked_at IS NULL');
    this.#activeByName = db.prepare('SELECT * FROM api_keys WHERE name = ? AND revoked_at IS NULL');
    this.#list = db.prepare('SELECT * FROM api_keys ORDER BY created_at, id');
    this.#revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?');
    this.#touch = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?');
  }

  /**
   * Creates a key of a tenant (the caller checks that it exists); the returned `key` is the only
   * time the plaintext exists outside the caller.
   */
  create(name: string, role: ApiKeyRole, options: { tenant?: string; canReveal?: boolean } = {}): { info: ApiKeyInfo; key: string } {
    const n = checkApiKeyInput(name, role);
    if (this.#activeByName.get(n) !== undefined) throw new UsageError(`API key '${n}' already exists`);
    const made = newApiKey(n, role, options, this.#clock());
    const i = made.info;
    this.#insert.run(i.id, i.name, i.role, i.tenant, i.canReveal ? 1 : 0, made.hash, i.createdAt);
    return { info: i, key: made.key };
  }

  list(): ApiKeyInfo[] {
    return this.#list.all().map(toApiKeyInfo);
  }

  /** Revokes the active key of that name; it stops working on the next request. */
  revoke(name: string): ApiKeyInfo {
    const row = this.#activeByName.get(typeof name === 'string' ? name.trim() : '');
    if (row === undefined) throw new UsageError(`no API key named '${printable(String(name))}'`);
    const now = this.#clock();
    this.#revoke.run(now, row.id);
    return { ...toApiKeyInfo(row), revokedAt: now };
  }

  /** The active key's metadata when `presented` is exactly one; undefined otherwise. */
  verify(presented: string): ApiKeyInfo | undefined {
    const id = apiKeyId(presented);
    const row = id === undefined ? undefined : this.#byId.get(id);
    if (!keyMatches(presented, row, this.#dummy) || row === undefined) return undefined;
    const now = this.#clock();
    if (needsTouch(row, now)) {
      try {
        this.#touch.run(now, row.id);
      } catch {
        // A busy database must not turn a valid key away.
      }
    }
    return toApiKeyInfo(row);
  }
}

/** A checked, trimmed key name; UsageError for a bad name or role. */
export function checkApiKeyInput(name: string, role: ApiKeyRole): string {
  const n = typeof name === 'string' ? name.trim() : '';
  if (!NAME.test(n)) throw new UsageError(`invalid API key name '${printable(n)}': use 1-63 letters, digits, '.', '_' or '-'`);
  if (!isApiKeyRole(role)) throw new UsageError(`invalid role '${printable(String(role))}': use ${API_KEY_ROLES.join(', ')}`);
  return n;
}

/** A new key and the row that stores it (its sha256, never the key). */
export function newApiKey(name: string, role: ApiKeyRole, options: { tenant?: string; canReveal?: boolean }, now: number): { info: ApiKeyInfo; key: string; hash: Buffer } {
  const idHex = randomBytes(8).toString('hex');
  let secret = '';
  for (let i = 0; i < 40; i++) secret += BASE62[randomInt(BASE62.length)];
  const key = `sak_${idHex}_${secret}`;
  const info: ApiKeyInfo = { id: `key_${idHex}`, name, role, tenant: options.tenant ?? DEFAULT_TENANT, canReveal: options.canReveal === true, createdAt: now, lastUsedAt: null, revokedAt: null };
  return { info, key, hash: sha256(key) };
}

/** The row id a presented key names, if it has a key's shape. */
export function apiKeyId(presented: string): string | undefined {
  const m = KEY.exec(presented);
  return m === null ? undefined : `key_${m[1]}`;
}

/** Constant-time check of a presented key against its row (a dummy hash when there is none). */
export function keyMatches(presented: string, row: ApiKeyRow | undefined, dummy: Buffer): boolean {
  const expected = row?.key_hash.length === 32 ? row.key_hash : dummy;
  const match = timingSafeEqual(sha256(presented), expected);
  return match && row !== undefined && isApiKeyRole(row.role);
}

export function needsTouch(row: ApiKeyRow, now: number): boolean {
  return row.last_used_at === null || now - row.last_used_at > TOUCH_EVERY_MS;
}

export function dummyKeyHash(): Buffer {
  return sha256(`sak_${'0'.repeat(16)}_${randomBytes(20).toString('hex')}`);
}

export function toApiKeyInfo(r: ApiKeyRow): ApiKeyInfo {
  return {
    id: r.id,
    name: r.name,
    role: isApiKeyRole(r.role) ? r.role : 'auditor',
    tenant: r.tenant,
    canReveal: r.can_reveal === 1 || r.can_reveal === true,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}
