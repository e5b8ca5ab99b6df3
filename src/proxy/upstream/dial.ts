import { connect, type SecureContext, type TLSSocket } from 'node:tls';
import { GatewayError } from '../../errors.js';
import type { UpstreamTarget } from './open-upstream.js';

/**
 * Opens a verified TLS connection to the upstream, pinned exactly as HTTP/1.1 requests are
 * (open-upstream.ts): the checked address (never resolved again), the target's port, SNI and
 * certificate name of the CONNECT target, the gateway's trust store. ALPN offers h2 and
 * http/1.1: what the upstream selects decides the protocol (no ALPN answer means HTTP/1.1).
 */
export function dialUpstream(to: UpstreamTarget, secureContext: SecureContext, timeoutMs: number): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const socket = connect({
      host: to.address.address,
      port: to.target.port,
      servername: to.target.kind === 'name' ? to.target.host : undefined,
      secureContext,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new GatewayError('GW_UPSTREAM_TIMEOUT', 'connect'));
    }, timeoutMs);
    timer.unref();
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', failed);
      resolve(socket);
    });
    const failed = (e: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    socket.once('error', failed);
  });
}
