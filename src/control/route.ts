import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { AsyncStore } from '../store/store-api.js';
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

export interface RouteContext<B = Record<string, unknown>, Q = Record<string, string | undefined>> {
  params: Record<string, string>;
  /** The query, checked against the route's schema (unknown parameters refused). */
  query: Q;
  /** The body, checked against the route's schema and `refine`; `{}` when none was sent. */
  body: B;
  caller: Caller;
  /** The store as the caller's tenant sees it: nothing of another tenant is reachable through it. */
  store: AsyncStore;
}

export type Reply =
  | { status: number; json: unknown }
  | { status: number; text: string; contentType: string }
  | { status: 204 };

export type Report = (field: string, message: string) => void;

/** What the authentication hook and the metrics need to know of a route (its fastify config). */
export interface RouteMeta {
  /** Roles allowed to call it; `public` needs no key (health, OpenAPI). */
  roles: readonly Role[] | 'public';
  operationId: string;
  /** Whether the call changes state (logged at info). */
  mutating: boolean;
}

interface Spec<B extends TObject, Q extends TObject> extends RouteMeta {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** fastify form, `/v1/secrets/:name`: `:x` matches one non-empty path segment. */
  path: string;
  summary: string;
  body?: B;
  query?: Q;
  /** Success status and its schema (a component, or an array of one) or a media type. */
  success: { status: number; schema?: TSchema; array?: boolean; media?: string };
  /**
   * Checks of meaning (names, host patterns, schemes) on the body fields whose type the schema
   * accepted; their problems are reported together with the schema's, in one CTL_INVALID.
   */
  refine?: (fields: Partial<Static<B>>, report: Report, ctx: RouteContext) => void | Promise<void>;
  handle(ctx: RouteContext<Static<B>, Static<Q>>): Promise<Reply> | Reply;
}

/** A route with its types erased, as the server mounts it. */
export type Route = Spec<TObject, TObject>;

/**
 * Declares a route. The cast erases the body and query types: the server calls `handle` only
 * after the request passed the very schemas these types are derived from.
 */
export function route<B extends TObject = TObject, Q extends TObject = TObject>(spec: Spec<B, Q>): Route {
  return spec as unknown as Route;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every routed request (see auth.ts). */
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    /** Absent on fastify's own 404 and on our 405 routes. */
    control?: RouteMeta;
  }
}
