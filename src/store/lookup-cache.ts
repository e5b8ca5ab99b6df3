import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import type { SandboxInfo, TokenResolution, UnboundSecret } from '../model/secrets.js';

/**
 * Memo of the two reads the proxy makes on every request (token -> resolution, sandbox id ->
 * sandbox), about 40 µs of SQLite and JSON per request uncached. An entry is good only while the
 * database is unchanged: `data_version` moves when another connection commits (the CLI, another
 * gateway), `total_changes()` when this connection writes (the control API in the same process).
 * `total_changes()` is a counter in memory, read on every lookup; `data_version` starts a read
 * transaction (3-14 µs under load), so it is read once per synchronous run: the lookups of one
 * request (its sandbox, then its tokens) share it, and a change committed anywhere counts on the
 * very next request, exactly as without the cache. Only hits are kept (a spray of unknown tokens
 * must not fill memory), and entries are frozen: callers share them.
 */
export class LookupCache {
  readonly #ownChanges: Statement<[], { t: number }>;
  readonly #otherChanges: Statement<[], { v: number }>;
  readonly #max: number;
  #t = -1;
  #v = -1;
  #checkedThisRun = false;
  readonly #endRun = (): void => {
    this.#checkedThisRun = false;
  };
  readonly #tokens = new Map<string, TokenResolution>();
  readonly #sandboxes = new Map<string, SandboxInfo>();
  readonly #sandboxTokens = new Map<string, readonly string[]>();
  readonly #unbound = new Map<string, readonly UnboundSecret[]>();

  constructor(db: Db, maxEntries = 10_000) {
    this.#ownChanges = db.prepare('SELECT total_changes() AS t');
    this.#otherChanges = db.prepare('SELECT data_version AS v FROM pragma_data_version');
    this.#max = maxEntries;
  }

  token(token: string, load: () => TokenResolution | undefined): TokenResolution | undefined {
    return this.#get(this.#tokens, token, load);
  }

  sandbox(id: string, load: () => SandboxInfo | undefined): SandboxInfo | undefined {
    return this.#get(this.#sandboxes, id, load);
  }

  sandboxTokens(id: string, load: () => readonly string[]): readonly string[] {
    return this.#get(this.#sandboxTokens, id, load) ?? [];
  }

  unbound(id: string, load: () => readonly UnboundSecret[]): readonly UnboundSecret[] {
    return this.#get(this.#unbound, id, load) ?? [];
  }

  #get<T extends object>(map: Map<string, T>, key: string, load: () => T | undefined): T | undefined {
    const t = this.#ownChanges.get()?.t ?? -1;
    let v = this.#v;
    if (!this.#checkedThisRun) {
      this.#checkedThisRun = true;
      queueMicrotask(this.#endRun);
      v = this.#otherChanges.get()?.v ?? -1;
    }
    if (t !== this.#t || v !== this.#v) {
      this.#tokens.clear();
      this.#sandboxes.clear();
      this.#sandboxTokens.clear();
      this.#unbound.clear();
      this.#t = t;
      this.#v = v;
    }
    const hit = map.get(key);
    if (hit !== undefined) return hit;
    const loaded = load();
    if (loaded === undefined) return undefined;
    if (map.size >= this.#max) map.clear();
    map.set(key, deepFreeze(loaded));
    return loaded;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
