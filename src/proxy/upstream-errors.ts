import { GatewayError } from '../errors.js';

// Certificate and handshake failures surface under many codes; all mean "could not verify".
const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME|ALTNAME/;

/**
 * Maps a socket/TLS error from the upstream side to one of our codes. Only the error's `code`
 * is looked at: messages of foreign errors never travel further (they can embed URLs).
 */
export function upstreamError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') return new GatewayError('GW_UPSTREAM_TIMEOUT', code);
  if (TLS_ERROR.test(code)) return new GatewayError('GW_UPSTREAM_TLS', code);
  if (code.startsWith('HPE_') || code.startsWith('ERR_HTTP2_')) return new GatewayError('GW_UPSTREAM_PROTOCOL', code);
  // A body that does not decode as its Content-Encoding says (zlib codes; brotli's are ERR__ERROR_*).
  if (code.startsWith('Z_') || code.startsWith('ERR__ERROR') || code.includes('BROTLI') || code.includes('ZLIB')) return new GatewayError('GW_UPSTREAM_PROTOCOL', code);
  return new GatewayError('GW_UPSTREAM_CONNECT', code || 'connection failed');
}
