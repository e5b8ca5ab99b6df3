import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../../errors.js';
import { Exchange } from '../../exchange/exchange.js';
import type { Forward } from '../../exchange/flow.js';
import { logExchange, logForwarded } from '../../exchange/log-row.js';
import { decide } from '../../exchange/pipeline.js';
import { fromRaw, stripForClient, withoutHeader, type HeaderList } from '../../model/headers.js';
import { Scrubber } from '../../swap/scrubber.js';
import type { ProxyDeps, TunnelContext } from '../deps.js';
import { readableCodings } from '../forward.js';
import { asGatewayError, writeRawProblem } from '../problem.js';
import { openUpstream } from '../upstream/open-upstream.js';
import { upstreamError } from '../upstream-errors.js';
import { h1Input } from './h1-input.js';
import { settle } from './settle.js';

/**
 * A WebSocket handshake inside a tunnel: an Exchange through the same pipeline, then the two
 * sockets joined. When a value could come back (a secret of the sandbox is scoped to this host,
 * swapped in this handshake or not), compression extensions are refused (header finishing) so the
 * server's frames stay readable, and the server-to-client bytes are masked with same-length
 * replacements, which keeps frame lengths valid. A value split across two frames is not caught
 * (documented limit).
 */
export function handleTunnelUpgrade(deps: ProxyDeps, ctx: TunnelContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const ex = new Exchange(deps.clock(), 'websocket', req.method ?? '');
  ex.sandbox = ctx.sandbox;
  ex.target = ctx.target;
  ex.address = ctx.address;
  ex.setPath(req.url ?? '');
  socket.on('error', () => socket.destroy());
  socket.once('close', () => logExchange(ex, deps.netlog, deps.clock()));
  settle(
    () => {
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw new GatewayError('GW_BAD_REQUEST', 'only WebSocket upgrades are relayed');
      return decide(h1Input(ex, ctx.sandbox, ctx.target, ctx.address, req, req.url ?? ''), deps.pipeline);
    },
    (fwd) => {
      if (!ctx.check) return join(deps, ex, ctx, fwd, socket, head);
      // A self-test tunnel never joins anything: the handshake's decision is the answer.
      ex.answeredAsCheck(new GatewayError('GW_CHECK_ONLY'));
      const body = JSON.stringify({ check: true, request_id: ex.id, decision: ex.decision, applied: ex.applied.map((a) => ({ secret: a.secretName, version: a.version, placement: a.placement })), forwarded: false });
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    (e) => {
      const err = asGatewayError(e);
      ex.fail(err);
      writeRawProblem(socket, err, ex.id);
    },
  );
}

function join(deps: ProxyDeps, ex: Exchange, ctx: TunnelContext, fwd: Forward, socket: Duplex, head: Buffer): void {
  const upstream = openUpstream(deps.upstreams, { sandboxId: ctx.sandbox.id, tls: true, target: fwd.target, address: fwd.address }, fwd);
  ex.forwardedAt = deps.clock();
  logForwarded(ex, deps.netlog, ex.forwardedAt);
  const scrubber = fwd.scrubber;
  upstream.setTimeout(deps.limits.upstreamConnectMs, () => upstream.destroy(new GatewayError('GW_UPSTREAM_TIMEOUT')));
  upstream.on('error', (e) => {
    const err = upstreamError(e);
    ex.fail(err);
    writeRawProblem(socket, err, ex.id);
  });
  upstream.on('upgrade', (upRes, upSocket, upHead) => {
    upstream.setTimeout(0);
    ex.status = 101;
    const headers: HeaderList = [...scrubbed(upRes, scrubber), ['Connection', 'Upgrade'], ['Upgrade', 'websocket']];
    socket.write(head101(headers));
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.on('error', () => socket.destroy());
    socket.on('error', () => upSocket.destroy());
    upSocket.on('data', (c: Buffer) => (ex.bytesIn += c.length));
    socket.on('data', (c: Buffer) => (ex.bytesOut += c.length));
    const fromServer = scrubber !== undefined ? upSocket.pipe(Scrubber.sameLength(fwd.reflections).stream()) : upSocket;
    fromServer.pipe(socket).on('close', () => upSocket.destroy());
    socket.pipe(upSocket).on('close', () => socket.destroy());
    upSocket.setTimeout(deps.limits.idleMs, () => upSocket.destroy());
  });
  upstream.on('response', (upRes) => {
    // The upstream declined the upgrade: relay its answer, delimited by closing the connection.
    // A scrubbed answer is relayed only uncoded (no decoder chain for a refusal body).
    if (scrubber?.active === true && !uncoded(upRes)) {
      upRes.resume();
      const err = new GatewayError('GW_UPSTREAM_PROTOCOL', 'declined upgrade with a coded body');
      ex.fail(err);
      writeRawProblem(socket, err, ex.id);
      return;
    }
    ex.status = upRes.statusCode ?? 502;
    const headers = withoutHeader(scrubbed(upRes, scrubber), 'content-length');
    const lines = [`HTTP/1.1 ${ex.status} Upgrade Declined`, ...headers.map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', ''];
    socket.write(lines.join('\r\n'));
    const body = scrubber?.active === true ? upRes.pipe(scrubber.stream()) : upRes;
    body.pipe(socket);
  });
  upstream.end();
}

function uncoded(upRes: IncomingMessage): boolean {
  try {
    return readableCodings(upRes).length === 0;
  } catch {
    return false;
  }
}

function scrubbed(upRes: IncomingMessage, scrubber: Scrubber | undefined): HeaderList {
  const headers = stripForClient(fromRaw(upRes.rawHeaders));
  return scrubber?.active === true ? scrubber.scrubHeaders(headers) : headers;
}

function head101(headers: HeaderList): string {
  return ['HTTP/1.1 101 Switching Protocols', ...headers.map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
}
