import type { SchemeSpec } from '../../store/types.js';
import { basicScheme } from './basic.js';
import { bearerScheme } from './bearer.js';
import { headerScheme } from './header.js';
import { queryScheme } from './query.js';
import type { Scheme } from './scheme.js';

export type { Scheme, MutableRequest, Reflection } from './scheme.js';

export function schemeFor(spec: SchemeSpec): Scheme {
  switch (spec.kind) {
    case 'bearer':
      return bearerScheme();
    case 'basic':
      return basicScheme();
    case 'header':
      return headerScheme(spec);
    case 'query':
      return queryScheme(spec);
  }
}
