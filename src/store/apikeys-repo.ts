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

interface Row {
  id: string;
  name: string;
  role: string;
  tenant: string;
  can_reveal: number;
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
  readonly #byId: Statement<[string], Row>;
  readonly #activeByName: Statement<[string], Row>;
  readonly #list: Statement<[], Row>;
  readonly #revoke: Statement<[number, string]>;
  readonly #touch: Statement<[number, string]>;
  readonly #dummy = sha256(`sak_${'0'.repeat(16)}_${randomBytes(20).toString('hex')}`);

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
    const tenant = options.tenant ?? DEFAULT_TENANT;
    const canReveal = options.canReveal === true;
    const n = typeof name === 'string' ? name.trim() : '';
    if (!NAME.test(n)) throw new UsageError(`invalid API key name '${printable(n)}': use 1-63 letters, digits, '.', '_' or '-'`);
    if (!isApiKeyRole(role)) throw new UsageError(`invalid role '${printable(String(role))}': use ${API_KEY_ROLES.join(', ')}`);
    if (this.#activeByName.get(n) !== undefined) throw new UsageError(`API key '${n}' already exists`);
    const idHex = randomBytes(8).toString('hex');
    let secret = '';
    for (let i = 0; i < 40; i++) secret += BASE62[randomInt(BASE62.length)];
    const key = `sak_${idHex}_${secret}`;
    const now = this.#clock();
    this.#insert.run(`key_${idHex}`, n, role, tenant, canReveal ? 1 : 0, sha256(key), now);
    return { info: { id: `key_${idHex}`, name: n, role, tenant, canReveal, createdAt: now, lastUsedAt: null, revokedAt: null }, key };
  }

  list(): ApiKeyInfo[] {
    return this.#list.all().map(toInfo);
  }

  /** Revokes the active key of that name; it stops working on the next request. */
  revoke(name: string): ApiKeyInfo {
    const row = this.#activeByName.get(typeof name === 'string' ? name.trim() : '');
    if (row === undefined) throw new UsageError(`no API key named '${printable(String(name))}'`);
    const now = this.#clock();
    this.#revoke.run(now, row.id);
    return { ...toInfo(row), revokedAt: now };
  }

  /** The active key's metadata when `presented` is exactly one; undefined otherwise. */
  verify(presented: string): ApiKeyInfo | undefined {
    const m = KEY.exec(presented);
    const row = m === null ? undefined : this.#byId.get(`key_${m[1]}`);
    const expected = row?.key_hash.length === 32 ? row.key_hash : this.#dummy;
    const match = timingSafeEqual(sha256(presented), expected);
    if (!match || row === undefined || !isApiKeyRole(row.role)) return undefined;
    const now = this.#clock();
    if (row.last_used_at === null || now - row.last_used_at > TOUCH_EVERY_MS) {
      try {
        this.#touch.run(now, row.id);
      } catch {
        // A busy database must not turn a valid key away.
      }
    }
    return toInfo(row);
  }
}

function toInfo(r: Row): ApiKeyInfo {
  return {
    id: r.id,
    name: r.name,
    role: isApiKeyRole(r.role) ? r.role : 'auditor',
    tenant: r.tenant,
    canReveal: r.can_reveal === 1,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}
