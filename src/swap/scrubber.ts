import { Transform, type TransformCallback } from 'node:stream';
import { NeedleSearch } from './needle-search.js';
import type { Reflection } from './schemes/scheme.js';

interface Needle {
  find: Buffer;
  replace: Buffer;
}

/**
 * Replaces every reflected form of a real credential with its stand-in, in strings (headers) and
 * in streams (bodies). Streaming holds back only a tail that could still become a match — the
 * longest suffix that is a prefix of some needle — so a value split across chunks is caught while
 * event streams keep flowing event by event.
 */
export class Scrubber {
  private readonly needles: Needle[];
  private readonly search: NeedleSearch<Needle>;
  private readonly pairs: [string, string][];
  // Header names are compared case-insensitively (scrubHeaders): lowered once, not per response.
  private readonly loweredReals: string[];

  constructor(reflections: readonly Reflection[]) {
    const seen = new Set<string>();
    this.pairs = [];
    for (const r of reflections) {
      if (r.real === '' || r.real === r.standIn || seen.has(r.real)) continue;
      seen.add(r.real);
      this.pairs.push([r.real, r.standIn]);
    }
    // Longest first, so that a form that contains another is replaced whole.
    this.pairs.sort((a, b) => b[0].length - a[0].length);
    this.needles = this.pairs.map(([real, standIn]) => ({ find: Buffer.from(real, 'utf8'), replace: Buffer.from(standIn, 'utf8') }));
    this.search = new NeedleSearch(this.needles);
    this.loweredReals = this.pairs.map(([real]) => real.toLowerCase());
  }

  /**
   * A scrubber whose replacements have exactly the real value's byte length, for streams whose
   * framing counts bytes (WebSocket frames): masking keeps every frame length valid.
   */
  static sameLength(reflections: readonly Reflection[]): Scrubber {
    return new Scrubber(reflections.map((r) => ({ real: r.real, standIn: '*'.repeat(Buffer.byteLength(r.real, 'utf8')) })));
  }

  get active(): boolean {
    return this.needles.length > 0;
  }

  scrubString(s: string): string {
    let out = s;
    for (const [real, standIn] of this.pairs) if (out.includes(real)) out = out.split(real).join(standIn);
    return out;
  }

  /**
   * Response headers with every value scrubbed, and without any header whose NAME carries a form
   * of the value (an echo can put it there: API keys are often all header-name characters).
   * Names are compared case-insensitively, because they are case-insensitive on the wire and
   * clients lower-case them; such a header is dropped rather than renamed.
   */
  scrubHeaders(headers: readonly [string, string][]): [string, string][] {
    return headers
      .filter(([name]) => {
        const n = name.toLowerCase();
        return !this.loweredReals.some((real) => n.includes(real));
      })
      .map(([name, value]) => [name, this.scrubString(value)]);
  }

  /** Scrubs `buf`; returns the output and the tail held back for the next chunk. */
  scrubChunk(buf: Buffer, final: boolean): { out: Buffer; carry: Buffer } {
    let m = this.nextMatch(buf, 0);
    if (!m) {
      // The common case (no real value in this chunk): no copy of the chunk, only of the tail.
      const keep = final ? 0 : this.partialSuffix(buf, 0);
      return { out: buf.subarray(0, buf.length - keep), carry: keep === 0 ? EMPTY : Buffer.from(buf.subarray(buf.length - keep)) };
    }
    const parts: Buffer[] = [];
    let pos = 0;
    while (m) {
      parts.push(buf.subarray(pos, m.index), m.needle.replace);
      pos = m.index + m.needle.find.length;
      m = this.nextMatch(buf, pos);
    }
    const keep = final ? 0 : this.partialSuffix(buf, pos);
    parts.push(buf.subarray(pos, buf.length - keep));
    return { out: Buffer.concat(parts), carry: Buffer.from(buf.subarray(buf.length - keep)) };
  }

  /** Incremental scrubbing for a relay that does not go through a Transform stream. */
  state(): ScrubState {
    return new ScrubState(this);
  }

  stream(): Transform {
    return new ScrubStream(this);
  }

  private nextMatch(buf: Buffer, from: number): { index: number; needle: Needle } | undefined {
    return this.search.first(buf, from);
  }

  /** Length of the longest suffix of buf[from..] that is a proper prefix of some needle. */
  private partialSuffix(buf: Buffer, from: number): number {
    let longest = 0;
    for (const { find } of this.needles) {
      const first = find[0];
      const max = Math.min(find.length - 1, buf.length - from);
      for (let len = max; len > longest; len--) {
        // One byte comparison first: a full compare for every length of every needle cost more
        // than the search itself on a large body.
        if (buf[buf.length - len] === first && buf.compare(find, 0, len, buf.length - len, buf.length) === 0) {
          longest = len;
          break;
        }
      }
    }
    return longest;
  }
}

const EMPTY = Buffer.alloc(0);

/** A scrubber's position in one body: the tail held back because it could still become a match. */
export class ScrubState {
  private carry: Buffer = EMPTY;

  constructor(private readonly scrubber: Scrubber) {}

  /** Scrubbed output for `chunk` (possibly empty: part of it may be held back). */
  push(chunk: Buffer): Buffer {
    const input = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const { out, carry } = this.scrubber.scrubChunk(input, false);
    this.carry = carry;
    return out;
  }

  /** Whatever was held back, scrubbed, at the end of the body. */
  end(): Buffer {
    const { out } = this.scrubber.scrubChunk(this.carry, true);
    this.carry = EMPTY;
    return out;
  }
}

class ScrubStream extends Transform {
  private readonly state: ScrubState;

  constructor(scrubber: Scrubber) {
    super();
    this.state = scrubber.state();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = this.state.push(chunk);
    done(null, out.length > 0 ? out : undefined);
  }

  override _flush(done: TransformCallback): void {
    const out = this.state.end();
    done(null, out.length > 0 ? out : undefined);
  }
}
