import type { PlacementData } from '../../model/secrets.js';
import { basic } from './basic.js';
import { body } from './body.js';
import { bearer } from './bearer.js';
import { header } from './header.js';
import { oauth2 } from './oauth2.js';
import { path } from './path.js';
import { sigv4 } from './sigv4.js';
import { query } from './query.js';
import type { SchemeDefinition } from './scheme.js';

/**
 * Every credential scheme standin knows, by kind. A new scheme is one file beside this one and one
 * line here. The registry is a value, not module state: the pipeline takes it as a dependency, so
 * tests can run it with schemes of their own.
 */
export type SchemeRegistry = ReadonlyMap<string, SchemeDefinition>;

export function createRegistry(definitions: readonly SchemeDefinition[]): SchemeRegistry {
  return new Map(definitions.map((d) => [d.kind, d]));
}

/**
 * A definition as the registry holds it. Sound because a definition only ever receives placements
 * of its own kind that its own `normalize` returned (scheme-spec.ts looks them up by kind).
 */
export function register<P extends PlacementData>(definition: SchemeDefinition<P>): SchemeDefinition {
  return definition as unknown as SchemeDefinition;
}

export const SCHEMES: SchemeRegistry = createRegistry([
  register(bearer),
  register(basic),
  register(header),
  register(query),
  register(path),
  register(body),
  register(oauth2),
  register(sigv4),
]);
