import type { Readable } from 'node:stream';
import { GatewayError } from '../../errors.js';

/**
 * Reads a request body whole, for a credential step that asked for it: GW_BODY_TOO_LARGE beyond
 * `limit` bytes (and the rest is not read), GW_CLIENT_ABORTED if the client goes away first.
 */
export function readWhole(stream: Readable, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        stream.off('data', onData);
        stream.pause();
        reject(new GatewayError('GW_BODY_TOO_LARGE', `body over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    stream.on('data', onData);
    stream.once('end', () => resolve(Buffer.concat(chunks, size)));
    stream.once('error', () => reject(new GatewayError('GW_CLIENT_ABORTED', 'body not received')));
    stream.once('aborted', () => reject(new GatewayError('GW_CLIENT_ABORTED', 'body not received')));
  });
}
