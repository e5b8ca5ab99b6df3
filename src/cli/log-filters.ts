import type { Command } from 'commander';
import { isGatewayId } from '../config/gateway-id.js';
import { UsageError } from '../errors.js';
import { escapeForTerminal, parseSince } from '../netlog/sanitize.js';
import type { NetLogQuery } from '../netlog/types.js';

/** The filters of `log`, `log export` and `log stats`, one definition for all three. */
export interface FilterOptions {
  sandbox?: string;
  host?: string;
  decision?: string;
  status?: string;
  secret?: string;
  method?: string;
  since?: string;
  until?: string;
  gateway?: string;
}

export const DECISIONS = ['allowed', 'swapped', 'denied', 'token_misuse', 'error'];

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--sandbox <name>', 'only this sandbox')
    .option('--host <host>', 'only this host, or a glob (*.openai.com)')
    .option('--decision <decision>', `only this decision: ${DECISIONS.join(' | ')}`)
    .option('--status <code>', 'only this HTTP status (0: none was sent)')
    .option('--secret <name[@version]>', 'only requests that carried this secret (any version, or one)')
    .option('--method <method>', 'only this request method (CONNECT: tunnel-level rows)')
    .option('--since <time>', 'only rows since an ISO 8601 time or an age (30s, 15m, 2h, 7d)')
    .option('--until <time>', 'only rows before an ISO 8601 time or an age')
    .option('--gateway <id>', 'only rows written by this gateway (fleet mode: gateways share one log)');
}

const TOKEN = /^[A-Za-z0-9._~-]{1,128}$/;

/** Checks each filter; a bad one is a UsageError naming it (exit 2). */
export function filtersToQuery(o: FilterOptions, now: number = Date.now()): NetLogQuery {
  const q: NetLogQuery = {};
  if (o.sandbox !== undefined) q.sandbox = o.sandbox.trim();
  if (o.host !== undefined) {
    const host = o.host.trim().toLowerCase();
    if (!/^[a-z0-9.*?:_-]{1,253}$/.test(host)) throw bad('--host', o.host, 'use a host name or a glob like *.example.com');
    q.host = host;
  }
  if (o.decision !== undefined) {
    if (!DECISIONS.includes(o.decision)) throw bad('--decision', o.decision, `use ${DECISIONS.join(', ')}`);
    q.decision = o.decision;
  }
  if (o.status !== undefined) {
    if (!/^\d{1,3}$/.test(o.status.trim())) throw bad('--status', o.status, 'use an HTTP status like 403, or 0');
    q.status = Number(o.status.trim());
  }
  if (o.secret !== undefined) {
    const [name, version, ...rest] = o.secret.trim().split('@');
    if (name === undefined || !TOKEN.test(name) || rest.length > 0 || (version !== undefined && !/^\d{1,9}$/.test(version))) {
      throw bad('--secret', o.secret, 'use NAME or NAME@VERSION');
    }
    q.secret = o.secret.trim();
  }
  if (o.method !== undefined) {
    if (!/^[A-Za-z]{1,32}$/.test(o.method.trim())) throw bad('--method', o.method, 'use a method like GET or CONNECT');
    q.method = o.method.trim().toUpperCase();
  }
  if (o.gateway !== undefined) {
    if (!isGatewayId(o.gateway.trim())) throw bad('--gateway', o.gateway, "use a gateway id as the log shows it (letters, digits, '.', '_', '-')");
    q.gateway = o.gateway.trim();
  }
  if (o.since !== undefined) q.since = parseSince(o.since, now);
  if (o.until !== undefined) {
    try {
      q.until = parseSince(o.until, now);
    } catch {
      throw bad('--until', o.until, 'use an ISO 8601 time or an age like 30s, 15m, 2h, 7d');
    }
  }
  return q;
}

function bad(flag: string, value: string, hint: string): UsageError {
  return new UsageError(`invalid ${flag} '${escapeForTerminal(value.slice(0, 64))}': ${hint}`);
}

/**
 * A subcommand's options with those given to `log` itself: commander hands an option that both
 * know (`log stats --since 1h`) to the parent, since global options may follow subcommands.
 */
export function withParent<T extends object>(own: T, cmd: Command): T {
  return { ...(cmd.parent?.opts() ?? {}), ...own } as T;
}
