import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Node preload's text as built (dist/sandbox-env/node-preload.cjs, compiled from
 * node-preload.cts), without its source-map comment: the copy in the home stands alone.
 */
export function nodePreloadSource(): string {
  return readFileSync(join(import.meta.dirname, 'node-preload.cjs'), 'utf8').replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n');
}
