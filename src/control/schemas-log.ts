import { Type, type Static } from '@sinclair/typebox';
import type { NetLogStats } from '../netlog/stats.js';
import type { ExplainView } from './log-views.js';
import { DECISIONS, LogRowSchema, StringEnum } from './schemas.js';

/**
 * Reply schemas of the log inspection routes (stats, explain): what fastify serialises with and
 * the OpenAPI document shows inline. The type checks at the end keep them equal to what the
 * netlog functions return.
 */
const Str = Type.String();
const Int = Type.Integer();
const NullableStr = Type.Union([Type.String(), Type.Null()]);
const Count = Type.Object({ key: Str, requests: Int });
const CountBytes = Type.Object({ key: Str, requests: Int, bytesIn: Int, bytesOut: Int });

export const LogStatsSchema = Type.Object(
  {
    total: Type.Object({ requests: Int, bytesIn: Int, bytesOut: Int, refused: Int }),
    bySandbox: Type.Array(CountBytes),
    byHost: Type.Array(CountBytes),
    byDecision: Type.Array(Count),
    refusals: Type.Array(Count, { description: 'refusals and failures by error code' }),
    swaps: Type.Array(Count, { description: 'swaps per secret@version' }),
  },
  { description: 'Counts over the rows the filters select; each list largest first, at most 50.' },
);

const Detail = Type.Object({
  protocol: Str,
  applied: Type.Array(Type.Object({ secret: Str, version: Int, placement: Type.String({ description: 'where the credential went, its value redacted' }) })),
  scrubbed: Type.Boolean(),
  reason: Type.Optional(Str),
});

export const LogExplanationSchema = Type.Object({
  explanation: Type.Object({ requestId: Str, summary: Str, happened: Type.Array(Str), fix: Type.Array(Str, { description: 'what to change; empty when it worked' }) }),
  // The row as GET /v1/log has it, plus what explain reads (the chain position and hash).
  row: Type.Object({
    ...LogRowSchema.properties,
    complete: Type.Optional(Type.Boolean()),
    detail: Type.Optional(Detail),
    chainSeq: Type.Union([Int, Type.Null()]),
    hash: NullableStr,
  }),
});

/** Compile-time proof that a reply schema and the type a handler returns are the same shape. */
export type Assignable<A, B> = [A] extends [B] ? true : false;
export type Check<T extends true> = T;
export type LogSchemasMatch = [
  Check<Assignable<NetLogStats, Static<typeof LogStatsSchema>>>,
  Check<Assignable<Static<typeof LogStatsSchema>, NetLogStats>>,
  Check<Assignable<ExplainView['explanation'], Static<typeof LogExplanationSchema>['explanation']>>,
];
