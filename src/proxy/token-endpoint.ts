import { GatewayError, isGatewayError } from '../errors.js';
import type { SandboxInfo } from '../model/secrets.js';
import { checkEgress, type SelfAddresses } from '../policy/egress.js';
import { formatTarget, parseHostHeader } from '../policy/target.js';
import type { ResolverOptions } from '../policy/types.js';
import type { AccessTokenDeps, TokenEndpointReply } from '../swap/access-tokens.js';
import { openUpstream } from './upstream/open-upstream.js';
import type { SandboxAgents } from './upstream/sandbox-agents.js';

export interface TokenEndpointOptions {
  agents: SandboxAgents;
  resolver: ResolverOptions;
  self: SelfAddresses;
  timeoutMs: number;
}

// The token endpoint's connections are the gateway's own, never a sandbox's pool.
const POOL = 'gateway:token-endpoint';
const MAX_REPLY = 64 * 1024;
// The egress checks without a sandbox's host policy: the operator chose the token URL, but its
// address is checked like any destination (public only, unless --allow-dest; never the gateway).
const NO_POLICY: SandboxInfo = { id: POOL, tenant: '', name: POOL, environment: '', allowHosts: [], createdAt: 0 };

/**
 * POSTs a token request the way every upstream request goes: the URL's host resolved and checked
 * once (no private, loopback or metadata address — no SSRF through a token URL), the connection
 * pinned to that address with verified TLS for the host name, bounded in time and size. Failures
 * are GW_TOKEN_EXCHANGE whose detail names the cause, never a value.
 */
export function tokenPoster(options: TokenEndpointOptions): AccessTokenDeps['post'] {
  return async (url, form, headers) => {
    const u = new URL(url);
    const target = parseHostHeader(u.host, 443);
    if (u.protocol !== 'https:' || target === undefined) throw new GatewayError('GW_TOKEN_EXCHANGE', 'token URL is not https://host[:port]');
    let address;
    try {
      address = await checkEgress(NO_POLICY, target, 443, options.resolver, options.self);
    } catch (e) {
      throw new GatewayError('GW_TOKEN_EXCHANGE', `token endpoint ${formatTarget(target)} refused: ${isGatewayError(e) ? e.code : 'address check failed'}`);
    }
    const body = Buffer.from(form, 'utf8');
    const req = openUpstream(
      options.agents,
      { sandboxId: POOL, tls: true, target, address },
      { method: 'POST', path: `${u.pathname}${u.search}`, headers: [['Host', u.host], ...headers, ['Content-Length', String(body.length)]] },
    );
    return new Promise<TokenEndpointReply>((resolve, reject) => {
      const fail = (why: string): void => {
        req.destroy();
        reject(new GatewayError('GW_TOKEN_EXCHANGE', `token endpoint: ${why}`));
      };
      req.setTimeout(options.timeoutMs, () => fail('timed out'));
      req.on('error', () => fail('connection failed'));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_REPLY) return fail('answer too large');
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', () => fail('answer cut off'));
      });
      req.end(body);
    });
  };
}
