import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';
import { fromRaw, stripForClient, withoutHeader } from '../model/headers.js';
import { Scrubber } from '../swap/scrubber.js';
import type { HeaderList } from '../model/headers.js';
import type { ProxyDeps, TunnelContext } from './deps.js';
import { ExchangeRecord } from './exchange-record.js';
import { asGatewayError, writeRawProblem } from './problem.js';
import { checkAndPlan } from './tunnel-request.js';
import { upstreamError } from './upstream-errors.js';

/**
 * A WebSocket handshake inside a tunnel: checked and swapped like any request, then the two
 * sockets are joined. When a value could come back (a secret of the sandbox is scoped to this
 * host, swapped in this handshake or not), compression extensions are refused (so
 * the server's frames stay readable) and the server-to-client byte stream is masked with
 * same-length replacements, which keeps frame lengths valid. A value split across two frames
 * is not caught (documented limit).
 */
export function handleTunnelUpgrade(deps: ProxyDeps, ctx: TunnelContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const record = new ExchangeRecord(deps.clock, req.method ?? '', 'https');
  record.sandbox = ctx.sandbox.name;
  record.tenant = ctx.sandbox.tenant;
  record.setTarget(ctx.target);
  record.setPath(req.url ?? '');
  record.upstreamIp = ctx.address.address;
  socket.on('error', () => socket.destroy());
  socket.once('close', () => record.write(deps.netlog));
  try {
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw new GatewayError('GW_BAD_REQUEST', 'only WebSocket upgrades are relayed');
    const plan = checkAndPlan(deps, ctx, req, record);
    const scrubber = deps.reflections.scrubber(plan.reflections);
    // Masked whenever a value could come back, swapped in this handshake or not (reflection-guard.ts).
    const scrubbing = plan.reflections.length > 0;
    const requestHeaders = scrubbing ? withoutHeader(plan.headers, 'sec-websocket-extensions') : plan.headers;
    const upstream = httpsRequest({
      host: ctx.address.address,
      family: ctx.address.family,
      port: ctx.target.port,
      servername: ctx.target.kind === 'name' ? ctx.target.host : undefined,
      method: req.method,
      path: plan.path,
      headers: [...requestHeaders, ['Connection', 'Upgrade'], ['Upgrade', 'websocket']].flat(),
      setHost: false,
      agent: deps.httpsAgent,
    });
    upstream.setTimeout(deps.limits.upstreamConnectMs, () => upstream.destroy(new GatewayError('GW_UPSTREAM_TIMEOUT')));
    upstream.on('error', (e) => {
      const err = upstreamError(e);
      record.fail(err);
      writeRawProblem(socket, err, record.requestId);
    });
    upstream.on('upgrade', (upRes, upSocket, upHead) => {
      upstream.setTimeout(0);
      record.status = 101;
      const headers = [...scrubbed(upRes, scrubber), ['Connection', 'Upgrade'], ['Upgrade', 'websocket']] as HeaderList;
      socket.write(head101(headers));
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.on('error', () => socket.destroy());
      socket.on('error', () => upSocket.destroy());
      upSocket.on('data', (c: Buffer) => (record.bytesIn += c.length));
      socket.on('data', (c: Buffer) => (record.bytesOut += c.length));
      const fromServer = scrubbing ? upSocket.pipe(Scrubber.sameLength(plan.reflections).stream()) : upSocket;
      fromServer.pipe(socket).on('close', () => upSocket.destroy());
      socket.pipe(upSocket).on('close', () => socket.destroy());
      upSocket.setTimeout(deps.limits.idleMs, () => upSocket.destroy());
    });
    upstream.on('response', (upRes) => {
      // The upstream declined the upgrade: relay its answer, delimited by closing the connection.
      record.status = upRes.statusCode ?? 502;
      const headers = withoutHeader(scrubbed(upRes, scrubber), 'content-length');
      const lines = [`HTTP/1.1 ${record.status} Upgrade Declined`, ...headers.map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', ''];
      socket.write(lines.join('\r\n'));
      const body = scrubber.active ? upRes.pipe(scrubber.stream()) : upRes;
      body.pipe(socket);
    });
    upstream.end();
  } catch (e) {
    const err = asGatewayError(e);
    record.fail(err);
    writeRawProblem(socket, err, record.requestId);
  }
}

function scrubbed(upRes: IncomingMessage, scrubber: Scrubber): HeaderList {
  const headers = stripForClient(fromRaw(upRes.rawHeaders));
  return scrubber.active ? scrubber.scrubHeaders(headers) : headers;
}

function head101(headers: HeaderList): string {
  return ['HTTP/1.1 101 Switching Protocols', ...headers.map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
}
