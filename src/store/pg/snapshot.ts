import pg from 'pg';
import { GatewayError, RuntimeError } from '../../errors.js';
import type { SandboxInfo, TokenResolution, UnboundSecret } from '../../model/secrets.js';
import { SecretValue } from '../../secret-value.js';
import { decryptValue, secretAad } from '../crypto.js';
import type { RequestStore } from '../store-api.js';
import { CHANGE_CHANNEL, clientQueryable, type PgDb } from './pg-db.js';
import type { PgKeyRing } from './pg-key-ring.js';
import { keyHashHex, loadState, type SnapshotState } from './snapshot-state.js';

export interface SnapshotOptions {
  /** Catch-up poll: how often the change sequence is read even without a NOTIFY (default 1000 ms). */
  pollMs?: number;
  /**
   * How long the snapshot may go unconfirmed (database unreachable) before swaps are refused
   * (fail closed, GW_STORE_STALE); default 30 s.
   */
  staleMs?: number;
  clock?: () => number;
  /** Told when the database cannot be reached or a reload fails (no values in it). */
  onProblem?: (message: string) => void;
}

const ASCII_NAME = /^[\x21-\x7e]{1,63}$/;
const RELISTEN_MS = 500;

/**
 * The request path's view of a PostgreSQL store: an in-memory snapshot of tokens, sandboxes,
 * bindings and encrypted secret versions, answered synchronously (microseconds, never a query).
 *
 * Freshness: every write transaction moves `store_changes.seq` on and NOTIFYs it; a dedicated
 * connection LISTENs and reloads on each notification, and a poll reads the sequence every
 * `pollMs` in case a notification was missed (reconnects). A reload reads everything in one
 * REPEATABLE READ transaction and is installed only if its sequence is newer than the one
 * served, so a slow or reordered reload can never bring back a binding, sandbox or secret that a
 * newer snapshot has already dropped.
 *
 * When the database is unreachable the snapshot keeps serving until it has gone `staleMs`
 * unconfirmed; then every token lookup and value refuses with GW_STORE_STALE rather than apply
 * a credential that may have been revoked meanwhile.
 */
export class PgSnapshot implements RequestStore {
  readonly #db: PgDb;
  readonly #url: string;
  readonly #keys: PgKeyRing;
  readonly #clock: () => number;
  readonly #staleMs: number;
  readonly #pollMs: number;
  readonly #onProblem: (message: string) => void;
  #state: SnapshotState;
  #confirmedAt: number;
  #reloading: Promise<void> | undefined;
  #again = false;
  #listener: pg.Client | undefined;
  #poll: NodeJS.Timeout | undefined;
  #relisten: NodeJS.Timeout | undefined;
  #closed = false;
  #reachable = true;

  private constructor(db: PgDb, url: string, keys: PgKeyRing, state: SnapshotState, options: SnapshotOptions) {
    this.#db = db;
    this.#url = url;
    this.#keys = keys;
    this.#clock = options.clock ?? Date.now;
    this.#staleMs = options.staleMs ?? 30_000;
    this.#pollMs = options.pollMs ?? 1_000;
    this.#onProblem = options.onProblem ?? (() => undefined);
    this.#state = state;
    this.#confirmedAt = this.#clock();
  }

  /** Loads the first snapshot (the database must answer), then follows changes. */
  static async start(db: PgDb, url: string, keys: PgKeyRing, options: SnapshotOptions = {}): Promise<PgSnapshot> {
    const snap = new PgSnapshot(db, url, keys, await readState(db), options);
    await snap.#listen();
    snap.#poll = setInterval(() => void snap.#check(), snap.#pollMs);
    snap.#poll.unref();
    return snap;
  }

  /** The change sequence served now. */
  get seq(): number {
    return this.#state.seq;
  }

  /** Milliseconds since the snapshot was last confirmed current. */
  ageMs(): number {
    return Math.max(0, this.#clock() - this.#confirmedAt);
  }

  /** Past the fail-closed bound. */
  stale(): boolean {
    return this.ageMs() > this.#staleMs;
  }

  reachable(): boolean {
    return this.#reachable;
  }

  authenticateSandbox(name: string, key: string): SandboxInfo | undefined {
    if (typeof name !== 'string' || typeof key !== 'string' || key === '') return undefined;
    const id = this.#state.byKeyHash.get(keyHashHex(key));
    const sandbox = id === undefined ? undefined : this.#state.sandboxes.get(id);
    if (sandbox === undefined) return undefined;
    // Names are ASCII; comparing ASCII only keeps Unicode case folding out (as on SQLite).
    return ASCII_NAME.test(name) && sandbox.name.toLowerCase() === name.toLowerCase() ? sandbox : undefined;
  }

  getSandboxById(id: string): SandboxInfo | undefined {
    return this.#state.sandboxes.get(id);
  }

  resolveToken(token: string): TokenResolution | undefined {
    if (typeof token !== 'string' || token === '') return undefined;
    const hit = this.#state.tokens.get(token);
    if (hit !== undefined) this.#refuseIfStale();
    return hit;
  }

  tokensOfSandbox(sandboxId: string): readonly string[] {
    return this.#state.sandboxTokens.get(sandboxId) ?? [];
  }

  unboundSecrets(sandboxId: string): readonly UnboundSecret[] {
    return this.#state.unbound.get(sandboxId) ?? [];
  }

  secretValue(secretId: string, version: number): SecretValue {
    this.#refuseIfStale();
    const state = this.#state;
    const blob = state.ciphertexts.get(`${secretId}:${version}`);
    if (blob === undefined) throw new GatewayError('GW_SECRET_UNAVAILABLE', `secret ${secretId} has no version ${version}`);
    const key = this.#keys.pick(state.epoch, state.sample);
    if (key === undefined) throw new GatewayError('GW_SECRET_UNAVAILABLE', `secret ${secretId}: the master key was rotated and the new key is not available to this gateway`);
    try {
      return new SecretValue(decryptValue(key, blob, secretAad(secretId, version)));
    } catch (e) {
      if (e instanceof RuntimeError) throw new GatewayError('GW_SECRET_UNAVAILABLE', `secret ${secretId}: ${e.message}`);
      throw e;
    }
  }

  /** Reloads now (single flight: a reload asked for while one runs runs once more after it). */
  reload(): Promise<void> {
    if (this.#reloading !== undefined) {
      this.#again = true;
      return this.#reloading;
    }
    const run = async (): Promise<void> => {
      do {
        this.#again = false;
        const started = this.#clock();
        const next = await readState(this.#db);
        this.#install(next, started);
      } while (this.#again && !this.#closed);
    };
    this.#reloading = run().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  /** Installs a state read at `startedAt`; an older sequence than the one served is dropped. */
  #install(next: SnapshotState, startedAt: number): void {
    if (next.seq > this.#state.seq) this.#state = next;
    if (next.seq >= this.#state.seq) this.#confirm(startedAt);
  }

  #confirm(at: number): void {
    this.#reachable = true;
    if (at > this.#confirmedAt) this.#confirmedAt = at;
  }

  #refuseIfStale(): void {
    if (this.stale()) {
      throw new GatewayError('GW_STORE_STALE', `store snapshot unconfirmed for ${Math.round(this.ageMs() / 1000)} s (database unreachable)`);
    }
  }

  // The catch-up poll: the sequence alone; a reload only when it moved.
  async #check(): Promise<void> {
    if (this.#closed) return;
    const started = this.#clock();
    try {
      const seq = (await this.#db.query<{ seq: number }>('SELECT seq FROM store_changes WHERE id = 1'))[0]?.seq ?? 0;
      if (seq > this.#state.seq) await this.reload();
      else this.#confirm(started);
      if (this.#listener === undefined && this.#relisten === undefined) this.#scheduleListen();
    } catch (e) {
      this.#unreachable(e);
    }
  }

  #unreachable(e: unknown): void {
    if (this.#reachable) this.#onProblem(`store database unreachable: ${e instanceof Error ? e.message.split('\n')[0] : 'unknown error'}`);
    this.#reachable = false;
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 5_000 });
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (n) => {
      if (n.channel !== CHANGE_CHANNEL) return;
      if (Number(n.payload) > this.#state.seq) this.reload().catch((e: unknown) => this.#unreachable(e));
    });
    try {
      await client.connect();
      await clientQueryable(client, this.#db.display).query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (e) {
      void client.end().catch(() => undefined);
      throw e;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#listener = client;
    // Changes made while no one listened are caught up at once.
    void this.#check();
  }

  #lost(client: pg.Client): void {
    if (this.#listener !== client) return;
    this.#listener = undefined;
    void client.end().catch(() => undefined);
    if (!this.#closed) this.#scheduleListen();
  }

  #scheduleListen(): void {
    this.#relisten = setTimeout(() => {
      this.#relisten = undefined;
      this.#listen().catch((e: unknown) => {
        this.#unreachable(e);
        if (!this.#closed) this.#scheduleListen();
      });
    }, RELISTEN_MS);
    this.#relisten.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poll !== undefined) clearInterval(this.#poll);
    if (this.#relisten !== undefined) clearTimeout(this.#relisten);
    const l = this.#listener;
    this.#listener = undefined;
    await l?.end().catch(() => undefined);
    await this.#reloading?.catch(() => undefined);
  }
}

async function readState(db: PgDb): Promise<SnapshotState> {
  const client = await db.connect();
  const q = clientQueryable(client, db.display);
  let broken = false;
  try {
    await q.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const state = await loadState(q);
    await q.query('COMMIT');
    return state;
  } catch (e) {
    broken = true;
    throw e;
  } finally {
    client.release(broken);
  }
}
