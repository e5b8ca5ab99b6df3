import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { checkEgress } from '../policy/egress.js';
import { checkPlainRequest } from '../policy/request-checks.js';
import { formatTarget, parseAbsoluteHttpUrl } from '../policy/target.js';
import { findTokens } from '../swap/find-tokens.js';
import { fromRaw, stripHopByHop, withoutHeader } from '../model/headers.js';
import { authenticate } from './authenticate.js';
import type { ProxyDeps } from './deps.js';
import { ExchangeRecord } from './exchange-record.js';
import { asGatewayError, sendProblem } from './problem.js';
import { hasBody, forward } from './forward.js';
import { answerExpectation } from './tunnel-request.js';

/**
 * Absolute-form plain-HTTP proxy requests (`GET http://host/path`). Forwarded when policy allows,
 * but a stand-in token is never swapped over cleartext: a request carrying one is refused.
 */
export function handlePlainRequest(deps: ProxyDeps, req: IncomingMessage, res: ServerResponse): void {
  const record = new ExchangeRecord(deps.clock, req.method ?? '', 'http');
  record.writeOnClose(res, deps.netlog);
  void (async () => {
    let parsed: ReturnType<typeof parseAbsoluteHttpUrl> | undefined;
    try {
      parsed = parseAbsoluteHttpUrl(req.url ?? '');
      record.setTarget(parsed.target);
      record.setPath(parsed.path);
    } catch {
      record.setPath((req.url ?? '').slice(0, 256));
    }
    const sandbox = authenticate(deps.store, req);
    record.sandbox = sandbox.name;
    record.tenant = sandbox.tenant;
    if (!parsed) throw new GatewayError('GW_BAD_TARGET', 'not an absolute http:// URL');
    res.once('close', deps.connections.acquire(sandbox.id));
    const raw = fromRaw(req.rawHeaders);
    const refused = checkPlainRequest({ httpVersion: req.httpVersion, method: req.method ?? '', url: parsed.path, headers: raw });
    if (refused) throw refused;
    // RFC 9112 §3.2.2: a proxy uses the absolute URL's authority, whatever Host says.
    const hostValue = parsed.target.port === 80 ? formatTarget(parsed.target).replace(/:80$/, '') : formatTarget(parsed.target);
    const headers = [...withoutHeader(stripHopByHop(raw), 'host'), ['Host', hostValue] as [string, string]];
    const tokens = findTokens(headers, parsed.path);
    if (tokens.length > 0) {
      record.secrets = tokens.flatMap((t) => {
        const r = t.malformed ? undefined : deps.store.resolveToken(t.token);
        return r && r.sandboxId === sandbox.id ? [`${r.secret.name}@${r.version ?? '-'}`] : [];
      });
      throw new GatewayError('GW_TOKEN_CLEARTEXT');
    }
    const address = await checkEgress(sandbox, parsed.target, 80, deps.resolver, deps.self);
    record.upstreamIp = address.address;
    const outHeaders = answerExpectation(req, res, headers);
    forward(deps, req, res, { tls: false, target: parsed.target, address, method: req.method ?? 'GET', path: parsed.path, headers: outHeaders, scrubber: undefined }, record);
  })().catch((e: unknown) => {
    const err = asGatewayError(e);
    if (err.code === 'GW_INTERNAL') deps.logger.error({ requestId: record.requestId, err: e }, 'plain request failed');
    record.fail(err);
    sendProblem(res, err, record.requestId, hasBody(req));
  });
}
