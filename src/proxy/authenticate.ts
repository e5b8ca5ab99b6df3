import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import type { SandboxInfo } from '../model/secrets.js';
import type { Store } from '../store/types.js';
import { parseProxyAuthorization } from './proxy-auth.js';

/** The sandbox a proxy request speaks for, or GW_PROXY_AUTH (407). */
export function authenticate(store: Pick<Store, 'authenticateSandbox'>, req: IncomingMessage): SandboxInfo {
  const values = req.headersDistinct['proxy-authorization'];
  if (!values || values.length !== 1) throw new GatewayError('GW_PROXY_AUTH', values ? 'several credentials' : 'no credentials');
  const creds = parseProxyAuthorization(values[0]);
  if (!creds) throw new GatewayError('GW_PROXY_AUTH', 'malformed credentials');
  const sandbox = store.authenticateSandbox(creds.name, creds.key);
  if (!sandbox) throw new GatewayError('GW_PROXY_AUTH', 'wrong credentials');
  return sandbox;
}
