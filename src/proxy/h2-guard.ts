import { constants, type Http2Session } from 'node:http2';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../logging/logger.js';
import { formatTarget } from '../policy/target.js';
import type { TunnelContext } from './deps.js';
import { FRAME, FrameHeads, h2ErrorName, type FrameHead } from './h2-frames.js';

/**
 * Stable codes of the HTTP/2 events the gateway logs (pino `code` field, level warn). Node
 * bounds several of these attacks itself but reports none; the guard counts frames on the
 * wire (h2-frames.ts) so that each is bounded by a documented limit and logged.
 */
export const H2_EVENT = {
  /** More client RST_STREAMs than the reset budget (CVE-2023-44487): session closed. */
  RAPID_RESET: 'GW_H2_RAPID_RESET',
  /** More PING/SETTINGS frames than the control budget: session closed. */
  CONTROL_FLOOD: 'GW_H2_CONTROL_FLOOD',
  /** A header block continued over more CONTINUATION frames than allowed (CVE-2024-27316): session closed. */
  CONTINUATION_FLOOD: 'GW_H2_CONTINUATION_FLOOD',
  /** Streams refused beyond SETTINGS_MAX_CONCURRENT_STREAMS (first refusal per session). */
  TOO_MANY_STREAMS: 'GW_H2_TOO_MANY_STREAMS',
  /** The gateway's HTTP/2 server reset a stream with an error (an HPACK bomb: ENHANCE_YOUR_CALM; first per code per session). */
  STREAM_ERROR: 'GW_H2_STREAM_ERROR',
  /** The gateway's HTTP/2 server ended a session with an error (HPACK bomb, header list too large, Node's own flood checks). */
  GOAWAY: 'GW_H2_GOAWAY',
  /** A stream with no frame either way for the idle limit (a window that never opens, a silent stream). */
  STREAM_IDLE: 'GW_H2_STREAM_IDLE',
  /** A stream open longer than the total limit (a stream that never ends). */
  STREAM_TOO_LONG: 'GW_H2_STREAM_TOO_LONG',
} as const;

/** Budgets of one sandbox HTTP/2 connection (token buckets: a burst, refilled per second). */
export interface H2GuardLimits {
  resetBurst: number;
  resetsPerSecond: number;
  controlBurst: number;
  controlPerSecond: number;
  /** CONTINUATION frames after one HEADERS frame. */
  maxContinuations: number;
}

export const DEFAULT_H2_GUARD: H2GuardLimits = { resetBurst: 200, resetsPerSecond: 100, controlBurst: 100, controlPerSecond: 20, maxContinuations: 16 };

const PREFACE_BYTES = 24;

/** Logs an event of a sandbox HTTP/2 connection: one warn line with the code, sandbox, tenant, target and facts. */
export function logH2Event(logger: Logger, ctx: TunnelContext, code: string, message: string, fields: Record<string, string | number> = {}): void {
  logger.warn({ code, sandbox: ctx.sandbox.name, tenant: ctx.sandbox.tenant, target: formatTarget(ctx.target), ...fields }, message);
}

class Bucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly clock: () => number,
  ) {
    this.tokens = burst;
    this.at = clock();
  }

  /** Takes one token; false when the budget is spent. */
  take(): boolean {
    const now = this.clock();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Watches one sandbox HTTP/2 connection in both directions and closes it (GOAWAY
 * ENHANCE_YOUR_CALM) when it spends a budget. Sits between the TLS socket and Node's session as
 * the Duplex the session reads and writes, with backpressure both ways.
 */
export class H2Guard {
  session: Http2Session | undefined;
  private readonly resets: Bucket;
  private readonly control: Bucket;
  private continuations = 0;
  private refused = 0;
  private closed = false;
  private readonly streamErrors = new Set<number>();
  // Streams the gateway resets on purpose (an upstream reset relayed): not the server's own refusals.
  private readonly relayed = new Set<number>();
  private readonly inbound: FrameHeads;
  private readonly outbound: FrameHeads;

  constructor(
    private readonly tls: TLSSocket,
    private readonly ctx: TunnelContext,
    private readonly logger: Logger,
    private readonly limits: H2GuardLimits,
    clock: () => number,
  ) {
    this.resets = new Bucket(limits.resetBurst, limits.resetsPerSecond, clock);
    this.control = new Bucket(limits.controlBurst, limits.controlPerSecond, clock);
    this.inbound = new FrameHeads((f) => this.fromClient(f), PREFACE_BYTES);
    this.outbound = new FrameHeads((f) => this.fromGateway(f));
  }

  /** What the session reads: the sandbox's bytes, counted on their way in. */
  reader(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) => {
        if (this.closed) return done();
        this.inbound.push(chunk);
        done(null, this.closed ? undefined : chunk);
      },
    });
  }

  /** What the session writes: counted, then to the TLS socket (its backpressure is the session's). */
  writer(): Writable {
    const tls = this.tls;
    return new Writable({
      write: (chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void) => {
        this.outbound.push(chunk);
        if (tls.destroyed) return done();
        if (tls.write(chunk)) done();
        else tls.once('drain', () => done());
      },
      final: (done: (e?: Error | null) => void) => {
        tls.end();
        done();
      },
    });
  }

  event(code: string, message: string, fields: Record<string, string | number> = {}): void {
    logH2Event(this.logger, this.ctx, code, message, fields);
  }

  private fromClient(f: FrameHead): void {
    if (f.type === FRAME.RST_STREAM && !this.resets.take()) {
      return this.shut(H2_EVENT.RAPID_RESET, 'h2 client reset streams faster than allowed', { resetsPerSecond: this.limits.resetsPerSecond, burst: this.limits.resetBurst });
    }
    if ((f.type === FRAME.PING || f.type === FRAME.SETTINGS) && (f.flags & 1) === 0 && !this.control.take()) {
      return this.shut(H2_EVENT.CONTROL_FLOOD, 'h2 client sent PING/SETTINGS faster than allowed', { perSecond: this.limits.controlPerSecond, burst: this.limits.controlBurst });
    }
    if (f.type === FRAME.HEADERS) this.continuations = 0;
    if (f.type === FRAME.CONTINUATION && ++this.continuations > this.limits.maxContinuations) {
      return this.shut(H2_EVENT.CONTINUATION_FLOOD, 'h2 header block continued over too many frames', { maxContinuations: this.limits.maxContinuations });
    }
  }

  /** The next RST_STREAM on this stream is the gateway relaying an upstream's reset. */
  relayingReset(streamId: number): void {
    this.relayed.add(streamId);
  }

  private fromGateway(f: FrameHead): void {
    if (f.type === FRAME.RST_STREAM) {
      if (this.relayed.delete(f.streamId)) return;
      const code = f.errorCode ?? 0;
      if (code === constants.NGHTTP2_REFUSED_STREAM) {
        if (++this.refused === 1) this.event(H2_EVENT.TOO_MANY_STREAMS, 'h2 streams refused beyond the concurrent-stream limit');
      } else if (code !== constants.NGHTTP2_NO_ERROR && code !== constants.NGHTTP2_CANCEL && !this.streamErrors.has(code)) {
        this.streamErrors.add(code);
        this.event(H2_EVENT.STREAM_ERROR, 'h2 stream reset by the gateway with an error', { h2Error: h2ErrorName(code) });
      }
    }
    if (f.type === FRAME.GOAWAY && f.errorCode !== constants.NGHTTP2_NO_ERROR && !this.closed) {
      this.closed = true;
      this.event(H2_EVENT.GOAWAY, 'h2 session ended by the gateway with an error', { h2Error: h2ErrorName(f.errorCode) });
    }
  }

  private shut(code: string, message: string, fields: Record<string, string | number>): void {
    if (this.closed) return;
    this.closed = true;
    this.event(code, message, fields);
    // Whatever else the client sends is dropped (reader); the GOAWAY gets a moment to leave,
    // then the connection is closed whatever the client does.
    const s = this.session;
    if (s !== undefined && !s.destroyed) s.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    const end = setTimeout(() => {
      s?.destroy();
      this.tls.destroy();
    }, 50);
    end.unref();
  }
}
