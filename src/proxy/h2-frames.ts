/** HTTP/2 frame types the guard watches (RFC 9113 §6). */
export const FRAME = { HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 } as const;

export interface FrameHead {
  type: number;
  flags: number;
  streamId: number;
  /** RST_STREAM's and GOAWAY's error code; undefined for other frames. */
  errorCode?: number;
}

/**
 * Reads frame heads out of one direction of an HTTP/2 connection, for accounting only: the
 * 9-byte head of every frame, and the error code of RST_STREAM and GOAWAY frames. Payloads are
 * skipped, never copied (at most 8 bytes of one are held). Node parses the frames for real; this
 * only lets the gateway count and log what Node keeps to itself. `skip` bytes (the client
 * preface) come first.
 */
export class FrameHeads {
  private head = Buffer.alloc(9);
  private headBytes = 0;
  private remaining = 0;
  private current: FrameHead | undefined;
  private code = Buffer.alloc(8);
  private codeBytes = 0;
  private codeAt = -1;

  constructor(
    private readonly onFrame: (f: FrameHead) => void,
    private skip = 0,
  ) {}

  push(chunk: Buffer): void {
    let pos = 0;
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      pos = n;
    }
    while (pos < chunk.length) {
      if (this.current === undefined) {
        const n = Math.min(9 - this.headBytes, chunk.length - pos);
        chunk.copy(this.head, this.headBytes, pos, pos + n);
        this.headBytes += n;
        pos += n;
        if (this.headBytes < 9) return;
        this.headBytes = 0;
        const type = this.head[3] ?? 0;
        this.current = { type, flags: this.head[4] ?? 0, streamId: this.head.readUInt32BE(5) & 0x7fffffff };
        this.remaining = this.head.readUIntBE(0, 3);
        // RST_STREAM: the code is the payload's first 4 bytes; GOAWAY: bytes 4-8.
        this.codeAt = type === FRAME.RST_STREAM ? 0 : type === FRAME.GOAWAY ? 4 : -1;
        this.codeBytes = 0;
        if (this.remaining === 0 || this.codeAt < 0) this.emitHead();
        if (this.remaining === 0) this.current = undefined;
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - pos);
      if (this.codeAt >= 0 && this.codeBytes < this.codeAt + 4) {
        const want = Math.min(this.codeAt + 4 - this.codeBytes, n);
        chunk.copy(this.code, this.codeBytes, pos, pos + want);
        this.codeBytes += want;
        if (this.codeBytes === this.codeAt + 4) {
          this.current.errorCode = this.code.readUInt32BE(this.codeAt);
          this.emitHead();
          this.codeAt = -1;
        }
      }
      pos += n;
      this.remaining -= n;
      if (this.remaining === 0) {
        // A frame too short to hold its code is still reported (Node refuses it anyway).
        if (this.codeAt >= 0) this.emitHead();
        this.current = undefined;
      }
    }
  }

  private emitHead(): void {
    if (this.current !== undefined) this.onFrame(this.current);
  }
}

/** The RFC 9113 §7 name of an error code, for log lines. */
export function h2ErrorName(code: number | undefined): string {
  const names = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];
  return code === undefined ? 'unknown' : (names[code] ?? `0x${code.toString(16)}`);
}
