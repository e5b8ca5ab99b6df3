import { expandReflections } from './reflections.js';
import type { Reflection } from './schemes/scheme.js';
import { Scrubber } from './scrubber.js';

/**
 * Expanded reflections and their scrubber, built once per distinct set of (real value, stand-in)
 * pairs instead of on every swapped request: the nine encodings of each value and the scrubber's
 * needle buffers cost about as much as the rest of the swap together. Entries are immutable (a
 * rotation produces a new value, so a new key); bounded, least recently used first out. Like the
 * decrypted-value cache, it holds real values in memory only.
 */
export class ReflectionCache {
  private readonly expanded = new Map<string, Reflection[]>();
  private readonly scrubbers = new WeakMap<readonly Reflection[], Scrubber>();

  constructor(private readonly max: number) {}

  /** The same array for the same pairs: treat it as read-only. */
  expand(base: readonly Reflection[]): Reflection[] {
    let key = '';
    for (const r of base) key += `${r.real}\u0000${r.standIn}\u0000\u0000`;
    const hit = this.expanded.get(key);
    if (hit) {
      this.expanded.delete(key);
      this.expanded.set(key, hit);
      return hit;
    }
    const value = expandReflections(base);
    this.expanded.set(key, value);
    if (this.expanded.size > this.max) {
      const oldest = this.expanded.keys().next();
      if (!oldest.done) this.expanded.delete(oldest.value);
    }
    return value;
  }

  /** A scrubber for `reflections`; shared when they came from `expand`. Scrubbers are stateless. */
  scrubber(reflections: readonly Reflection[]): Scrubber {
    const hit = this.scrubbers.get(reflections);
    if (hit) return hit;
    const scrubber = new Scrubber(reflections);
    this.scrubbers.set(reflections, scrubber);
    return scrubber;
  }
}
