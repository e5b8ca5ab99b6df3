import type { GatewayErrorCode } from '../errors.js';
import type { NetLogRecord } from './types.js';

/** `log explain`: one row in plain words. Every string is built from the row; none holds a value. */
export interface Explanation {
  requestId: string;
  /** One sentence: what happened. */
  summary: string;
  /** What the gateway found and did, step by step. */
  happened: string[];
  /** What to change to make it work; empty when it worked. */
  fix: string[];
}

interface Rule {
  rule: string;
  why: (r: NetLogRecord) => string;
  fix: (r: NetLogRecord) => string[];
}

const target = (r: NetLogRecord): string => (r.host === '' ? 'an unparseable target' : `${r.host}:${r.port}`);
const secretsOf = (r: NetLogRecord): string => (r.secrets.length === 0 ? 'a secret' : r.secrets.join(', '));
const sandboxOf = (r: NetLogRecord): string => r.sandbox ?? 'SANDBOX';
const names = (r: NetLogRecord): string => r.secrets.map((s) => s.replace(/@[^@]*$/, '')).join(', ') || 'NAME';

const UPSTREAM: Rule = {
  rule: 'upstream',
  why: (r) => `the gateway could not complete the exchange with ${target(r)} (${r.errorCode ?? 'error'})`,
  fix: () => ['check that the destination answers and that its certificate is valid (development: serve --upstream-ca, --resolve)'],
};

// The rule behind each refusal, and the change that makes the request work.
const RULES: Partial<Record<GatewayErrorCode, Rule>> = {
  GW_TOKEN_SCOPE: {
    rule: 'scope',
    why: (r) => `the request carried a stand-in of ${secretsOf(r)}, whose hosts do not include ${r.host}: it was refused and nothing was forwarded`,
    fix: (r) => [`send it only to a host the secret is scoped to (standin secret show ${names(r)}), or create the secret with --hosts including ${r.host}`],
  },
  GW_TOKEN_PLACEMENT: {
    rule: 'placement',
    why: (r) => `the stand-in of ${secretsOf(r)} was not where its scheme places the credential`,
    fix: (r) => [`put the stand-in where the secret's scheme expects it (standin secret show ${names(r)}), e.g. the Authorization header for bearer`],
  },
  GW_TOKEN_UNKNOWN: {
    rule: 'tenant and sandbox',
    why: () => 'the request carried a stand-in this sandbox does not own: unknown, revoked (unbound or rotated away), of another sandbox or another tenant',
    fix: (r) => [`use the stand-ins of this sandbox as they are now: standin sandbox env ${sandboxOf(r)}`],
  },
  GW_TOKEN_CLEARTEXT: {
    rule: 'cleartext',
    why: () => 'the request carried a stand-in over plain HTTP; stand-ins are never swapped over cleartext',
    fix: () => ['use https:// (through the proxy, with the standin CA trusted)'],
  },
  GW_EGRESS_DENIED: {
    rule: 'egress',
    why: (r) => `${r.host} is outside the sandbox's egress policy`,
    fix: (r) => [`allow the host for the sandbox (standin sandbox create ${sandboxOf(r)} --allow-host ${r.host}), or bind a secret scoped to it`],
  },
  GW_PORT_DENIED: {
    rule: 'egress (port)',
    why: (r) => `port ${r.port} is not allowed by the egress policy`,
    fix: () => ['use the standard port (443) or allow this one in the egress policy'],
  },
  GW_PRIVATE_ADDRESS: {
    rule: 'address',
    why: (r) => `${r.host} resolves only to private or otherwise refused addresses`,
    fix: () => ['use a public destination (development only: serve --allow-dest IP[:PORT])'],
  },
  GW_SELF_TARGET: { rule: 'address', why: () => 'the target is the gateway itself', fix: () => ['send requests through the proxy, not to it'] },
  GW_DNS_FAILED: { rule: 'address', why: (r) => `${r.host} could not be resolved`, fix: () => ['check the host name (development: serve --resolve HOST=IP)'] },
  GW_PROXY_AUTH: {
    rule: 'authentication',
    why: () => 'the proxy credentials named no existing sandbox',
    fix: () => ['run the program with standin run, or use the proxy URL from standin sandbox env NAME'],
  },
  GW_SECRET_UNAVAILABLE: {
    rule: 'credential',
    why: (r) => `the value of ${secretsOf(r)} could not be used (none in the sandbox's environment, or it could not be decrypted)`,
    fix: (r) => [`give the secret a value in the sandbox's environment: standin secret rotate ${names(r)} --environment ENV --value-stdin`],
  },
  GW_HOST_MISMATCH: {
    rule: 'request checks',
    why: () => 'the Host header did not name the CONNECT target',
    fix: () => ['send one Host header naming the host the tunnel was opened to'],
  },
  GW_METHOD_DENIED: { rule: 'request checks', why: () => 'the method is not allowed through the gateway', fix: () => ['use a standard HTTP method'] },
  GW_HTTP_VERSION: { rule: 'request checks', why: () => 'the HTTP version is not accepted', fix: () => ['use HTTP/1.1'] },
  GW_BAD_REQUEST: { rule: 'request checks', why: () => 'the request was malformed', fix: () => ['fix the request (see the problem+json the sandbox received)'] },
  GW_BAD_TARGET: { rule: 'request checks', why: () => 'the proxy target was malformed', fix: () => ['use CONNECT host:port or an absolute http:// URL'] },
  GW_BODY_TOO_LARGE: {
    rule: 'credential',
    why: () => "the body is larger than the gateway reads for this credential's scheme",
    fix: () => ['send a smaller body, or use a scheme that does not read it'],
  },
  GW_TOO_MANY_CONNECTIONS: { rule: 'limits', why: () => 'the sandbox had too many open connections', fix: () => ['reuse connections (keep-alive) or open fewer at once'] },
  GW_UPSTREAM_CONNECT: UPSTREAM,
  GW_UPSTREAM_TLS: UPSTREAM,
  GW_UPSTREAM_TIMEOUT: UPSTREAM,
  GW_UPSTREAM_PROTOCOL: UPSTREAM,
};

export function explainRow(r: NetLogRecord): Explanation {
  const d = r.detail;
  const who = r.sandbox === null ? 'An unauthenticated client' : `Sandbox ${r.sandbox}${r.tenant !== null && r.tenant !== 'default' ? ` (tenant ${r.tenant})` : ''}`;
  const what = r.method === 'CONNECT' ? `opened a tunnel to ${target(r)}` : `sent ${r.method} ${r.scheme}://${target(r)}${r.path}`;
  const happened: string[] = [`${who} ${what} at ${new Date(r.at).toISOString()}${d?.protocol ? ` (${d.protocol})` : ''}.`];
  const fix: string[] = [];
  let summary: string;
  if (r.decision === 'swapped') {
    summary = `Swapped: ${r.secrets.join(', ')} applied, answered ${r.status}.`;
    for (const a of d?.applied ?? []) happened.push(`A stand-in of ${a.secret} was found and replaced by version ${a.version}: ${a.placement}.`);
    if (d === undefined) happened.push(`Stand-ins were replaced by ${r.secrets.join(', ')}.`);
  } else if (r.decision === 'allowed') {
    summary = `Forwarded without a swap, answered ${r.status === 0 ? 'nothing' : r.status}.`;
    happened.push('No stand-in was found in the request headers (Basic credentials decoded) or query parameters, so nothing was swapped.');
    // Scrubbed means a secret of this sandbox is scoped here: a swap was likely meant to happen.
    if (d?.scrubbed === true) {
      happened.push(`A secret of this sandbox is scoped to ${r.host}, yet the request carried none of its stand-ins: the program sent some other credential, or none.`);
    }
    fix.push(
      'if a swap was expected: send the variable from standin sandbox env in a header or query parameter (bodies, cookies and paths are not searched), and check the program uses the proxy (HTTPS_PROXY) and the stand-in, not another key',
    );
  } else {
    if (d?.found !== undefined && d.found.length > 0) happened.push(`Stand-ins were found in: ${d.found.join(', ')}.`);
    const rule = r.errorCode === null ? undefined : RULES[r.errorCode];
    summary = `Refused${rule ? ` by the ${rule.rule} rule` : ''}: ${r.errorCode ?? r.decision}, answered ${r.status === 0 ? 'nothing' : r.status}.`;
    if (rule) {
      happened.push(`${capital(rule.why(r))}.`);
      fix.push(...rule.fix(r));
    } else if (r.errorCode === 'GW_CLIENT_ABORTED' || r.errorCode === 'GW_TIMEOUT') {
      happened.push('The client closed the connection or was too slow; nothing about credentials went wrong.');
    } else {
      happened.push(`The gateway failed with ${r.errorCode ?? 'an error'}.`);
    }
    if (d?.reason !== undefined) happened.push(`The gateway's reason: ${d.reason}.`);
  }
  if (d?.scrubbed === true) happened.push(`The response was scrubbed: values of this sandbox's secrets scoped to ${r.host} were masked if they came back.`);
  else if (d !== undefined && r.decision !== 'denied' && r.decision !== 'token_misuse') happened.push('The response was not scrubbed: no secret of this sandbox is scoped to this host.');
  if (!r.complete) happened.push('The gateway did not see this exchange end (still streaming, or the gateway stopped mid-stream).');
  return { requestId: r.requestId, summary, happened, fix };
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
