import type { IncomingMessage } from 'node:http';
import type { Store } from '../store/types.js';
import type { BodySpec } from './body.js';
import { ControlError } from './problem.js';
import type { Role } from './wire.js';

/**
 * Who is calling: `api:unix` (admin of the tenant it names, `default` unless it says) on the
 * socket, `api:<key name>` with the key's role and tenant on TCP.
 */
export interface Caller {
  actor: string;
  role: Role;
  tenant: string;
  /** Break-glass permission to read a value back; only keys granted it have it. */
  canReveal: boolean;
}

export interface RouteContext {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  caller: Caller;
  /** The store as the caller's tenant sees it: nothing of another tenant is reachable through it. */
  store: Store;
}

export type Reply =
  | { status: number; json: unknown }
  | { status: number; text: string; contentType: string }
  | { status: 204 };

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** `/v1/secrets/{name}`: `{x}` matches one path segment. */
  path: string;
  /** Roles allowed to call it; `public` needs no key (health, OpenAPI). */
  roles: readonly Role[] | 'public';
  summary: string;
  operationId: string;
  body?: BodySpec;
  query?: Record<string, string>;
  /** Success status and the name of the response schema (components/schemas) or a media type. */
  success: { status: number; schema?: string; array?: boolean; media?: string };
  /** Whether the call changes state (audited, never cached). */
  mutating: boolean;
  handle(ctx: RouteContext): Promise<Reply> | Reply;
}

interface Compiled {
  route: Route;
  segments: string[];
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

/** A table of routes matched by method and path segments; 404 and 405 are told apart. */
export class Router {
  readonly #routes: Compiled[];

  constructor(readonly routes: readonly Route[]) {
    this.#routes = routes.map((route) => ({ route, segments: route.path.split('/').slice(1) }));
  }

  match(method: string, pathname: string): Match {
    const parts = pathname.split('/').slice(1);
    let pathMatched = false;
    for (const c of this.#routes) {
      const params = matchSegments(c.segments, parts);
      if (params === undefined) continue;
      pathMatched = true;
      if (c.route.method === method || (method === 'HEAD' && c.route.method === 'GET')) return { route: c.route, params };
    }
    throw new ControlError(pathMatched ? 'CTL_METHOD_NOT_ALLOWED' : 'CTL_NOT_FOUND');
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] ?? '';
    const v = parts[i] ?? '';
    if (p.startsWith('{') && p.endsWith('}')) {
      if (v === '') return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(v);
      } catch {
        throw new ControlError('CTL_INVALID', 'malformed percent-encoding in the path');
      }
      params[p.slice(1, -1)] = decoded;
    } else if (p !== v) {
      return undefined;
    }
  }
  return params;
}
