import { describe, expect, it } from 'vitest';
import type { Forward } from '../../src/exchange/flow.js';
import { fromH2Headers, h2Trailers, upstreamH2Headers } from '../../src/proxy/h2-headers.js';
import { Scrubber } from '../../src/swap/scrubber.js';

function fwd(headers: [string, string][], scrubbing = false): Forward {
  return {
    tls: true,
    target: { host: 'api.standin.test', port: 443, kind: 'name' },
    address: { address: '127.0.0.1', family: 4 },
    method: 'POST',
    path: '/pkg.Svc/Call?x=1',
    headers,
    scrubber: scrubbing ? new Scrubber([{ real: 'real-value-123', standIn: 'standin-1' }]) : undefined,
    reflections: [],
    expectsContinue: false,
  };
}

describe('HTTP/2 request heads for the upstream', () => {
  it('pseudo-headers from the decided request; Host becomes :authority; connection-specific fields never cross', () => {
    const out = upstreamH2Headers(
      fwd([
        ['Host', 'api.standin.test'],
        ['Connection', 'keep-alive'],
        ['Keep-Alive', 'timeout=5'],
        ['Transfer-Encoding', 'chunked'],
        ['Upgrade', 'h2c'],
        ['Proxy-Authorization', 'Basic x'],
        ['TE', 'gzip'],
        ['Authorization', 'Bearer real-value-123'],
        ['X-Multi', 'a'],
        ['x-multi', 'b'],
      ]),
    );
    expect(out).toEqual({
      ':method': 'POST',
      ':scheme': 'https',
      ':authority': 'api.standin.test',
      ':path': '/pkg.Svc/Call?x=1',
      authorization: 'Bearer real-value-123',
      'x-multi': ['a', 'b'],
    });
  });

  it('gRPC: te: trailers, and uncompressed messages asked for when the response is scrubbed', () => {
    const grpc: [string, string][] = [['content-type', 'application/grpc+proto'], ['grpc-accept-encoding', 'gzip'], ['grpc-timeout', '5S']];
    expect(upstreamH2Headers(fwd(grpc))).toMatchObject({ te: 'trailers', 'grpc-accept-encoding': 'gzip', 'grpc-timeout': '5S' });
    expect(upstreamH2Headers(fwd(grpc, true))).toMatchObject({ te: 'trailers', 'grpc-accept-encoding': 'identity', 'grpc-timeout': '5S' });
  });

  it('trailers lose pseudo and connection-specific fields; a response block keeps repeated fields', () => {
    expect(h2Trailers([[':status', '200'], ['Connection', 'x'], ['grpc-status', '0'], ['grpc-message', 'ok']])).toEqual({ 'grpc-status': '0', 'grpc-message': 'ok' });
    expect(fromH2Headers({ ':status': '200', 'set-cookie': ['a=1', 'b=2'], 'content-length': '3' })).toEqual([
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['content-length', '3'],
    ]);
  });
});
