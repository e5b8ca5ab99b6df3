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

  /** Scrubs `buf`; returns the output and the tail held back for the next chunk (a view of `buf`). */
  scrubChunk(buf: Buffer, final: boolean): { out: Buffer; carry: Buffer } {
    const parts: Buffer[] = [];
    const keep = this.scrubFrom(buf, 0, final, (piece) => parts.push(piece));
    return { out: joined(parts), carry: keep === 0 ? EMPTY : buf.subarray(buf.length - keep) };
  }

  /** Longest needle, in bytes: no match is longer, so no held tail is. */
  get longest(): number {
    return this.needles[0]?.find.length ?? 0;
  }

  /**
   * Emits buf[from..] scrubbed, as views of `buf` and shared replacement buffers (no copy of the
   * body), except a tail that could still become a match; returns that tail's length (0 when
   * `final`). `emit` is never called with an empty buffer.
   */
  scrubFrom(buf: Buffer, from: number, final: boolean, emit: (piece: Buffer) => void): number {
    let pos = from;
    for (let m = this.nextMatch(buf, pos); m; m = this.nextMatch(buf, pos)) {
      if (m.index > pos) emit(buf.subarray(pos, m.index));
      emit(m.needle.replace);
      pos = m.index + m.needle.find.length;
    }
    const keep = final ? 0 : this.partialSuffix(buf, pos);
    // The whole chunk untouched (most chunks): itself, not a view of it.
    if (pos === 0 && keep === 0) {
      if (buf.length > 0) emit(buf);
    } else if (buf.length - keep > pos) emit(buf.subarray(pos, buf.length - keep));
    return keep;
  }

  /**
   * The matches that start in `joint` before `limit`, emitted with the bytes before them (from
   * `pos`); returns where the next search must start (possibly past `limit`). Used on the few
   * bytes around a chunk boundary, so that a held tail never forces a copy of the next chunk.
   */
  scrubStarts(joint: Buffer, limit: number, emit: (piece: Buffer) => void, view: (from: number, to: number) => Buffer): number {
    let pos = 0;
    for (let m = this.nextMatch(joint, 0); m && m.index < limit; m = this.nextMatch(joint, pos)) {
      if (m.index > pos) emit(view(pos, m.index));
      emit(m.needle.replace);
      pos = m.index + m.needle.find.length;
    }
    if (pos < limit) emit(view(pos, limit));
    return pos;
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

/** Pieces as one buffer: the piece itself when there is one (no copy), else their concatenation. */
function joined(parts: Buffer[]): Buffer {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  return parts.length === 0 ? EMPTY : Buffer.concat(parts);
}

/**
 * A scrubber's position in one body: the tail held back because it could still become a match.
 * The tail is a view of the chunk it came from (producers never reuse a buffer once emitted), and
 * the next chunk is searched in place: only the few bytes around the boundary are copied, into a
 * scratch buffer allocated once per body, so a held tail costs no copy of the chunk after it.
 */
export class ScrubState {
  private carry: Buffer = EMPTY;
  private scratch: Buffer = EMPTY;

  constructor(private readonly scrubber: Scrubber) {}

  /** Scrubbed output for `chunk` (possibly empty: part of it may be held back). */
  push(chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    this.write(chunk, (piece) => parts.push(piece));
    return joined(parts);
  }

  /** Scrubs `chunk` and hands the output to `emit` in pieces (none empty), copying none of it. */
  write(chunk: Buffer, emit: (piece: Buffer) => void): void {
    const carry = this.carry;
    if (carry.length === 0) {
      this.carry = this.hold(chunk, this.scrubber.scrubFrom(chunk, 0, false, emit));
      return;
    }
    const reach = this.scrubber.longest - 1;
    if (chunk.length < reach) {
      // A chunk shorter than a value: a match could run past it, so it joins the held tail (both
      // are short, so this copy is small).
      const input = Buffer.concat([carry, chunk]);
      this.carry = this.hold(input, this.scrubber.scrubFrom(input, 0, false, emit));
      return;
    }
    // Matches that start in the held tail end within its length plus `reach` bytes of this chunk.
    const size = carry.length + reach;
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(Math.max(size, 2 * this.scrubber.longest));
    const joint = this.scratch.subarray(0, size);
    carry.copy(joint, 0);
    chunk.copy(joint, carry.length, 0, reach);
    const next = this.scrubber.scrubStarts(joint, carry.length, emit, (from, to) => carry.subarray(from, to));
    this.carry = this.hold(chunk, this.scrubber.scrubFrom(chunk, Math.max(0, next - carry.length), false, emit));
  }

  /** Whatever was held back, scrubbed, at the end of the body. */
  end(): Buffer {
    const { out } = this.scrubber.scrubChunk(this.carry, true);
    this.carry = EMPTY;
    return out;
  }

  private hold(buf: Buffer, keep: number): Buffer {
    return keep === 0 ? EMPTY : buf.subarray(buf.length - keep);
  }
}

class ScrubStream extends Transform {
  private readonly state: ScrubState;

  constructor(scrubber: Scrubber) {
    super();
    this.state = scrubber.state();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.state.write(chunk, this.pushPiece);
    done();
  }

  private readonly pushPiece = (piece: Buffer): void => void this.push(piece);

  override _flush(done: TransformCallback): void {
    const out = this.state.end();
    done(null, out.length > 0 ? out : undefined);
  }
}
