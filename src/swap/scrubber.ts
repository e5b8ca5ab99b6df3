import { Transform, type TransformCallback } from 'node:stream';
import type { Reflection } from './schemes/index.js';

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
  private readonly pairs: [string, string][];

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

  /** Scrubs `buf`; returns the output and the tail held back for the next chunk. */
  scrubChunk(buf: Buffer, final: boolean): { out: Buffer; carry: Buffer } {
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const m = this.nextMatch(buf, pos);
      if (!m) break;
      parts.push(buf.subarray(pos, m.index), m.needle.replace);
      pos = m.index + m.needle.find.length;
    }
    const keep = final ? 0 : this.partialSuffix(buf, pos);
    parts.push(buf.subarray(pos, buf.length - keep));
    return { out: Buffer.concat(parts), carry: Buffer.from(buf.subarray(buf.length - keep)) };
  }

  stream(): Transform {
    return new ScrubStream(this);
  }

  private nextMatch(buf: Buffer, from: number): { index: number; needle: Needle } | undefined {
    let best: { index: number; needle: Needle } | undefined;
    for (const needle of this.needles) {
      const index = buf.indexOf(needle.find, from);
      if (index >= 0 && (!best || index < best.index)) best = { index, needle };
    }
    return best;
  }

  /** Length of the longest suffix of buf[from..] that is a proper prefix of some needle. */
  private partialSuffix(buf: Buffer, from: number): number {
    let longest = 0;
    for (const { find } of this.needles) {
      const max = Math.min(find.length - 1, buf.length - from);
      for (let len = max; len > longest; len--) {
        if (buf.compare(find, 0, len, buf.length - len, buf.length) === 0) {
          longest = len;
          break;
        }
      }
    }
    return longest;
  }
}

class ScrubStream extends Transform {
  private carry: Buffer = Buffer.alloc(0);

  constructor(private readonly scrubber: Scrubber) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const input = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const { out, carry } = this.scrubber.scrubChunk(input, false);
    this.carry = carry;
    done(null, out.length > 0 ? out : undefined);
  }

  override _flush(done: TransformCallback): void {
    const { out } = this.scrubber.scrubChunk(this.carry, true);
    this.carry = Buffer.alloc(0);
    done(null, out.length > 0 ? out : undefined);
  }
}
