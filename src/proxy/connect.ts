import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { GatewayError } from '../errors.js';
import { checkEgress } from '../policy/egress.js';
import { parseConnectAuthority } from '../policy/target.js';
import type { CheckedAddress, Target } from '../model/target.js';
import type { SandboxInfo } from '../model/secrets.js';
import { matchesAnyPattern } from '../policy/host-pattern.js';
import { authenticate } from './authenticate.js';
import type { HeadDeadline, ProxyDeps, TunnelContext } from './deps.js';
import { Exchange } from '../exchange/exchange.js';
import { logExchange } from '../exchange/log-row.js';
import { asGatewayError, writeRawProblem } from './problem.js';

/**
 * CONNECT: identify the sandbox, parse and police the target, then terminate TLS with a leaf for
 * that target and hand the decrypted stream to the protocol ALPN chose (`serve`). Refusals are answered on
 * the raw socket and logged; an accepted tunnel is logged through its requests.
 */
export function handleConnect(
  deps: ProxyDeps,
  serve: (tls: TLSSocket, tunnel: TunnelContext) => void,
  tunnelCount: { open: number },
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const record = new Exchange(deps.clock(), 'connect', 'CONNECT');
  socket.on('error', () => socket.destroy());
  // Node puts no deadline on a socket once it is handed to 'connect': bound the setup phase
  // (authentication, DNS, minting, TLS handshake).
  const setupTimer = setTimeout(() => {
    record.fail(new GatewayError('GW_TIMEOUT', 'tunnel setup'));
    socket.destroy();
  }, deps.limits.handshakeMs + deps.limits.headMs);
  setupTimer.unref();
  const refuse = (e: unknown): void => {
    clearTimeout(setupTimer);
    const err = asGatewayError(e);
    record.fail(err);
    writeRawProblem(socket, err, record.id);
    logExchange(record, deps.netlog, deps.clock());
  };
  let sandboxName: string | null = null;
  void (async () => {
    if (req.httpVersion !== '1.1' && req.httpVersion !== '1.0') throw new GatewayError('GW_HTTP_VERSION');
    const target = parseTargetLenient(req.url ?? '', record);
    const sandbox = authenticate(deps.store, req);
    record.sandbox = sandbox;
    sandboxName = sandbox.name;
    if (!target) throw new GatewayError('GW_BAD_TARGET');
    const release = deps.connections.acquire(sandbox.id);
    socket.once('close', release);
    const check = req.headers['standin-check'] === '1';
    const address = check ? checkOnly(sandbox, target) : await checkEgress(sandbox, target, 443, deps.pipeline.resolver, deps.pipeline.self);
    if (!check) {
      record.address = address;
      // The upstream handshake overlaps the leaf and the sandbox's handshake (h2-sessions.ts).
      const to = { sandboxId: sandbox.id, tls: true, target, address };
      deps.upstreamH2?.warm(to, (socket) => deps.upstreams.handOff(to, socket));
    }
    const context = await deps.leaves.get(target.host);
    if (socket.destroyed) {
      release();
      record.fail(new GatewayError('GW_CLIENT_ABORTED', 'closed during tunnel setup'));
      logExchange(record, deps.netlog, deps.clock());
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    // ALPN: h2 when the gateway offers it (and the client wants it), else HTTP/1.1.
    const tls = new TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: deps.http2 ? ['h2', 'http/1.1'] : ['http/1.1'] });
    let tunnel: TunnelContext | undefined;
    tls.on('error', () => tls.destroy());
    // Sockets from Node's HTTP server allow half-open: a client that hangs up before the handshake
    // only 'end's the socket, which would then hold its slot until a deadline.
    tls.once('end', () => {
      if (!tunnel) tls.destroy();
    });
    // The TLS socket takes over the raw socket's handle: its 'close' is the tunnel's end.
    tls.once('close', () => {
      clearTimeout(setupTimer);
      release();
      socket.destroy();
      // A tunnel that carried no request still leaves a row, so no traffic hides in tunnels that
      // fail their handshake, go silent, or close at once.
      if (!tunnel) record.fail(new GatewayError('GW_TLS_HANDSHAKE', 'no completed handshake'));
      if (!tunnel || tunnel.requests === 0) {
        if (record.status === 0) record.status = 200;
        logExchange(record, deps.netlog, deps.clock());
      }
    });
    tls.once('secure', () => {
      clearTimeout(setupTimer);
      const firstRequestDeadline = socketDeadline(tls, () => record.fail(new GatewayError('GW_TIMEOUT', 'no request')));
      firstRequestDeadline.arm(deps.limits.firstRequestMs);
      tunnel = { sandbox, target, address, firstRequestDeadline, requests: 0, check };
      tunnelCount.open += 1;
      tls.once('close', () => (tunnelCount.open -= 1));
      serve(tls, tunnel);
    });
  })().catch((e: unknown) => {
    if (sandboxName === null && !(e instanceof GatewayError)) deps.logger.error({ err: e }, 'connect handling failed');
    refuse(e);
  });
}

/**
 * A self-test tunnel still obeys the sandbox's egress policy, but resolves nothing: no address is
 * ever connected to (the unspecified address stands in, and every request is answered locally).
 */
function checkOnly(sandbox: SandboxInfo, target: Target): CheckedAddress {
  if (sandbox.allowHosts.length > 0 && !matchesAnyPattern(sandbox.allowHosts, target)) {
    throw new GatewayError('GW_EGRESS_DENIED', 'host outside the sandbox egress policy');
  }
  return { address: '0.0.0.0', family: 4 };
}

/** One timer per tunnel that destroys the socket when it fires. */
function socketDeadline(socket: TLSSocket, onExpire: () => void): HeadDeadline {
  let timer: NodeJS.Timeout | undefined;
  const clear = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  socket.once('close', clear);
  return {
    arm(ms) {
      clear();
      if (socket.destroyed) return;
      timer = setTimeout(() => {
        onExpire();
        socket.destroy();
      }, ms);
      timer.unref();
    },
    clear,
  };
}

/** Parses the target for the log even when authentication will fail; throws nothing. */
function parseTargetLenient(raw: string, record: Exchange): Target | undefined {
  try {
    const target = parseConnectAuthority(raw);
    record.target = target;
    return target;
  } catch {
    record.setPath(raw.slice(0, 256)); // keep what was asked for, sanitised, so refusals are visible
    return undefined;
  }
}
