import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { SecretInfo } from '../model/secrets.js';
import { parseHostPattern } from '../policy/host-pattern.js';
import { formatTarget } from '../policy/target.js';
import { formatSchemeSpec, sampleRequest } from '../swap/scheme-spec.js';

/** One binding of a sandbox, as `sandbox check` tests it. */
export interface CheckBinding {
  env: string;
  token: string;
  secret: Pick<SecretInfo, 'name' | 'hosts' | 'scheme'>;
}

export interface BindingCheck {
  env: string;
  secret: string;
  scheme: string;
  /** The host the self-test asked for (the secret's first host; a wildcard's `standin-check.` name). */
  host: string;
  /** The gateway would have applied the credential. */
  swapped: boolean;
  /** `name@version` and where, when swapped. */
  applied: { secret: string; version: number; placement: string }[];
  /** The sandbox's CA bundle accepts the gateway's certificate for this host. */
  caTrusted: boolean;
  /** Why not, in plain words, when something is wrong. */
  problem?: string;
  /** The gateway's refusal code, if it refused. */
  code?: string;
  requestId?: string;
}

export interface CheckTarget {
  /** HOST:PORT of the gateway. */
  proxy: string;
  sandbox: string;
  proxyKey: string;
  /** The CA bundle the sandbox's trust variables point at. */
  caBundle: string;
}

const DEADLINE_MS = 10_000;

/**
 * Sends, for each binding, the request a client would make with its stand-in through the gateway,
 * as the sandbox (its own proxy credential), on a self-test tunnel that the gateway answers itself:
 * nothing reaches the secret's hosts. Reports whether the swap would happen and where, and
 * whether the sandbox's CA bundle trusts the gateway — the silent failures, made loud.
 */
export async function checkBindings(to: CheckTarget, bindings: readonly CheckBinding[]): Promise<BindingCheck[]> {
  const results: BindingCheck[] = [];
  for (const b of bindings) results.push(await checkOne(to, b));
  return results;
}

async function checkOne(to: CheckTarget, b: CheckBinding): Promise<BindingCheck> {
  const scheme = formatSchemeSpec(b.secret.scheme);
  const host = checkHost(b.secret.hosts[0]);
  const base: BindingCheck = { env: b.env, secret: b.secret.name, scheme, host, swapped: false, applied: [], caTrusted: false };
  const sample = sampleRequest(b.secret.scheme, b.token);
  if (host === '') return { ...base, problem: 'the secret has no host it may be sent to' };
  if (sample === undefined) return { ...base, problem: `scheme ${scheme} needs the client to sign the request: check it with a real client (--command)` };
  let tls: TLSSocket;
  try {
    const socket = await connectTunnel(to, host);
    tls = await tlsOver(socket, host, to.caBundle);
  } catch (e) {
    const message = e instanceof CheckError ? e.message : 'the gateway could not be reached';
    return { ...base, caTrusted: !(e instanceof CheckError && e.untrusted), problem: message, ...(e instanceof CheckError && e.code ? { code: e.code } : {}) };
  }
  const head = [`${sample.method} ${sample.path} HTTP/1.1`, `Host: ${host.replace(/:443$/, '')}`, ...sample.headers.map(([k, v]) => `${k}: ${v}`)];
  if (sample.body !== undefined) head.push(`Content-Length: ${Buffer.byteLength(sample.body)}`);
  head.push('Connection: close', '', sample.body ?? '');
  const raw = await exchange(tls, head.join('\r\n'));
  return { ...base, caTrusted: true, ...readAnswer(raw) };
}

/** The secret's first host as a concrete name: `*.example.com` becomes `standin-check.example.com`. */
function checkHost(pattern: string | undefined): string {
  if (pattern === undefined) return '';
  try {
    const p = parseHostPattern(pattern);
    const host = p.match === 'subdomain' ? `standin-check.${p.host}` : p.host;
    return formatTarget({ host, port: p.port, kind: p.kind });
  } catch {
    return '';
  }
}

class CheckError extends Error {
  constructor(message: string, readonly untrusted = false, readonly code?: string) {
    super(message);
  }
}

function connectTunnel(to: CheckTarget, authority: string): Promise<Socket> {
  const [host, port] = splitHostPort(to.proxy);
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, host);
    const timer = setTimeout(() => fail(new CheckError(`the gateway at ${to.proxy} did not answer`)), DEADLINE_MS);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    socket.once('error', () => fail(new CheckError(`no gateway is listening at ${to.proxy} (start it with \`standin serve\`)`)));
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      clearTimeout(timer);
      const status = Number(buf.slice(9, 12));
      if (status === 200) return resolve(socket);
      const code = /x-standin-error: ([A-Z_]+)/i.exec(buf)?.[1];
      fail(new CheckError(`the gateway refused the tunnel to ${authority}: ${status}${code ? ` ${code}` : ''}`, false, code));
    };
    socket.on('data', onData);
    const auth = Buffer.from(`${to.sandbox}:${to.proxyKey}`).toString('base64');
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Basic ${auth}\r\nStandin-Check: 1\r\n\r\n`);
  });
}

function tlsOver(socket: Socket, authority: string, caBundle: string): Promise<TLSSocket> {
  let ca: string;
  try {
    ca = readFileSync(caBundle, 'utf8');
  } catch {
    socket.destroy();
    return Promise.reject(new CheckError(`the sandbox's CA bundle ${caBundle} cannot be read`, true));
  }
  const servername = authority.startsWith('[') ? undefined : authority.slice(0, authority.lastIndexOf(':'));
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, ca, ALPNProtocols: ['http/1.1'] }, () => resolve(tls));
    tls.once('error', (e: NodeJS.ErrnoException) => {
      socket.destroy();
      reject(new CheckError(`the sandbox's CA bundle ${caBundle} does not trust the gateway's certificate (${e.code ?? 'TLS error'}): run \`standin ca export\` and add it, or use \`sandbox env\`'s variables`, true));
    });
  });
}

function exchange(tls: TLSSocket, request: string): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => tls.destroy(), DEADLINE_MS);
    tls.on('data', (d: Buffer) => (out += d.toString('utf8')));
    tls.once('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    tls.on('error', () => tls.destroy());
    tls.write(request);
  });
}

function readAnswer(raw: string): Partial<BindingCheck> {
  const end = raw.indexOf('\r\n\r\n');
  const status = Number(raw.slice(9, 12));
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(raw.slice(end + 4)) as Record<string, unknown>;
  } catch {
    return { problem: `the gateway gave an unexpected answer (${status || 'none'})` };
  }
  const requestId = typeof body['request_id'] === 'string' ? body['request_id'] : undefined;
  if (body['check'] === true) {
    const applied = Array.isArray(body['applied']) ? (body['applied'] as BindingCheck['applied']) : [];
    const swapped = applied.length > 0;
    return { swapped, applied, ...(requestId ? { requestId } : {}), ...(swapped ? {} : { problem: 'the request went through but no credential was applied' }) };
  }
  const code = typeof body['code'] === 'string' ? body['code'] : undefined;
  const title = typeof body['title'] === 'string' ? body['title'] : `refused (${status})`;
  return { problem: `${title}${code ? ` (${code})` : ''}`, ...(code ? { code } : {}), ...(requestId ? { requestId } : {}) };
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i).replace(/^\[|\]$/g, ''), Number(s.slice(i + 1))];
}
