import type { SchemeSpec } from '../../model/secrets.js';
import type { HeaderList } from '../../model/headers.js';
import type { TokenLocation } from '../types.js';
import type { QueryParam } from '../find-tokens.js';

/** The parts of a request a scheme may change. */
export interface MutableRequest {
  headers: HeaderList;
  query: QueryParam[];
}

/** A form of the real value that may come back in a response, and what replaces it there. */
export interface Reflection {
  real: string;
  standIn: string;
}

/**
 * One way of placing a credential in a request. `accepts` says whether a token found at
 * `location` is where this scheme's credential goes; `apply` puts the real value there and
 * returns the forms of it that must be scrubbed from the response.
 */
export interface Scheme {
  accepts(req: MutableRequest, location: TokenLocation, token: string): boolean;
  apply(req: MutableRequest, location: TokenLocation, token: string, value: string): Reflection[];
  /** Human description, never containing the value. */
  describe(): string;
}

export type SchemeFactory<K extends SchemeSpec['kind']> = (spec: Extract<SchemeSpec, { kind: K }>) => Scheme;

export function headerAt(req: MutableRequest, index: number): string {
  const entry = req.headers[index];
  if (!entry) throw new Error('header index out of range');
  return entry[1];
}

export function setHeaderAt(req: MutableRequest, index: number, value: string): void {
  const entry = req.headers[index];
  if (!entry) throw new Error('header index out of range');
  entry[1] = value;
}
