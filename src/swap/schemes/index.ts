import type { Placement, SchemeSpec } from '../../model/secrets.js';
import { basicScheme } from './basic.js';
import { bearerScheme } from './bearer.js';
import { headerScheme } from './header.js';
import { multiScheme } from './multi.js';
import { queryScheme } from './query.js';
import type { Scheme } from './scheme.js';

export type { Scheme, MutableRequest, Reflection } from './scheme.js';

/** The single entry point from a stored spec to the code that applies it. */
export function schemeFor(spec: SchemeSpec): Scheme {
  if (spec.kind === 'multi') return multiScheme(spec.placements.map(placementScheme));
  return placementScheme(spec);
}

function placementScheme(p: Placement): Scheme {
  switch (p.kind) {
    case 'bearer':
      return bearerScheme();
    case 'basic':
      return basicScheme(p);
    case 'header':
      return headerScheme(p);
    case 'query':
      return queryScheme(p);
  }
}
