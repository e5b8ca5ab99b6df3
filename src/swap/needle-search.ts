/**
 * Finds the first of many byte strings in a buffer in one pass: Wu–Manber with 4-byte blocks.
 * A window as long as the shortest needle slides along the buffer; the hash of its last four bytes
 * says how far it may jump without stepping over the end of any needle's first `m` bytes, so most
 * of a body is skipped, not read, and the cost barely grows with the number of needles. That
 * matters because every retained version of every secret scoped to a host, in every encoding, is
 * a needle: dozens of them, where one `indexOf` pass per needle would make scrubbing their sum.
 * Few needles, or needles shorter than a block, use `indexOf` (native and fastest there).
 */
export interface FoundNeedle<T> {
  index: number;
  needle: T;
}

const BLOCK = 4;
const TABLE_BITS = 15;
const TABLE_SIZE = 1 << TABLE_BITS;
// Below this many needles, one native indexOf per needle beats the scan loop.
const NATIVE_MAX = 3;

export class NeedleSearch<T extends { find: Buffer }> {
  readonly #needles: readonly T[];
  readonly #m: number;
  readonly #shift: Uint16Array | undefined;
  /** Needles by the hash of their block ending at m-1, longest first (so ties go to the longest). */
  readonly #candidates: Map<number, T[]>;

  /** `needles` must be ordered longest first; an empty one never matches. */
  constructor(needles: readonly T[]) {
    this.#needles = needles.filter((n) => n.find.length > 0);
    this.#m = this.#needles.reduce((min, n) => Math.min(min, n.find.length), Number.MAX_SAFE_INTEGER);
    this.#candidates = new Map();
    if (this.#needles.length <= NATIVE_MAX || this.#m < BLOCK) {
      this.#shift = undefined;
      return;
    }
    const m = this.#m;
    const shift = new Uint16Array(TABLE_SIZE).fill(Math.min(m - BLOCK + 1, 0xffff));
    for (const n of this.#needles) {
      for (let end = BLOCK - 1; end < m; end++) {
        const h = hashAt(n.find, end);
        const s = m - 1 - end;
        if (s < (shift[h] ?? 0)) shift[h] = s;
        if (s === 0) {
          const list = this.#candidates.get(h);
          if (list === undefined) this.#candidates.set(h, [n]);
          else list.push(n);
        }
      }
    }
    this.#shift = shift;
  }

  get size(): number {
    return this.#needles.length;
  }

  /** The first needle occurrence at or after `from` (the longest one when several start there). */
  first(buf: Buffer, from: number): FoundNeedle<T> | undefined {
    return this.#shift === undefined ? this.#native(buf, from) : this.#scan(buf, from, this.#shift);
  }

  #native(buf: Buffer, from: number): FoundNeedle<T> | undefined {
    let best: FoundNeedle<T> | undefined;
    for (const needle of this.#needles) {
      const index = buf.indexOf(needle.find, from);
      if (index >= 0 && (best === undefined || index < best.index)) best = { index, needle };
    }
    return best;
  }

  #scan(buf: Buffer, from: number, shift: Uint16Array): FoundNeedle<T> | undefined {
    const m = this.#m;
    const n = buf.length;
    let pos = from + m - 1;
    while (pos < n) {
      const h = hashAt(buf, pos);
      const s = shift[h] ?? 0;
      if (s > 0) {
        pos += s;
        continue;
      }
      const start = pos - m + 1;
      const list = this.#candidates.get(h);
      if (list !== undefined) {
        for (const needle of list) {
          const len = needle.find.length;
          if (start + len <= n && buf.compare(needle.find, 0, len, start, start + len) === 0) return { index: start, needle };
        }
      }
      pos += 1;
    }
    return undefined;
  }
}

/** Hash of the four bytes ending at `end`. */
function hashAt(buf: Buffer, end: number): number {
  const w = ((buf[end - 3] ?? 0) << 24) | ((buf[end - 2] ?? 0) << 16) | ((buf[end - 1] ?? 0) << 8) | (buf[end] ?? 0);
  return Math.imul(w, 0x9e3779b1) >>> (32 - TABLE_BITS);
}
