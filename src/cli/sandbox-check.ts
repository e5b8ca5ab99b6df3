import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { RuntimeError, specOf, UsageError, type GatewayErrorCode } from '../errors.js';
import { checkBindings, type BindingCheck } from '../sandbox-env/check.js';
import type { CliContext } from './context.js';
import { loadSandboxEnv } from './load-sandbox-env.js';
import { out, printJson } from './output.js';

const COMMAND_DEADLINE_MS = 60_000;

/**
 * `sandbox check NAME`: a self-test of every binding through the running gateway, as the sandbox
 * (its proxy credential, its stand-ins, its CA trust), on tunnels the gateway answers itself — so
 * a placement that would not be swapped, or a CA the sandbox does not trust, shows up before the
 * first real call. `--command` also runs a program in the sandbox's environment and says whether
 * its traffic went through the gateway at all.
 */
export function registerSandboxCheck(sandbox: Command, ctx: CliContext): void {
  sandbox
    .command('check <name>')
    .description("self-test each binding through the running gateway: would the swap happen, where, and does the sandbox's CA trust hold")
    .option('--proxy <host:port>', 'gateway address (default: the running gateway, else 127.0.0.1:8877)')
    .option('--ca-file <file>', "the CA bundle the sandbox's trust variables point at, as the sandbox sees it (default: the home's bundle)")
    .option('--command <cmd>', 'also run this shell command in the sandbox environment and report what went through the gateway')
    .option('--json', 'one JSON document')
    .action(async (name: string, o: { proxy?: string; caFile?: string; command?: string; json?: boolean }) => {
      const store = await ctx.store();
      const info = await store.getSandbox(name);
      if (info === undefined) throw new UsageError(`no sandbox named '${name}'`);
      const env = await loadSandboxEnv(ctx, info.name, o.proxy);
      const proxy = (env['HTTPS_PROXY'] ?? '').replace(/^http:\/\/[^@]*@/, '');
      const bindings = [];
      for (const b of await store.listBindings(info.name)) {
        const secret = await store.getSecret(b.secretName);
        if (secret === undefined) throw new RuntimeError(`secret '${b.secretName}' of binding ${b.env} is gone`);
        bindings.push({ env: b.env, token: b.token, secret });
      }
      const results = await checkBindings({ proxy, sandbox: info.name, proxyKey: await store.proxyKey(info.name), caBundle: o.caFile ?? env['SSL_CERT_FILE'] ?? '' }, bindings);
      const probe = o.command === undefined ? undefined : await runProbe(ctx, info.name, o.command, env);
      const ok = results.every((r) => r.swapped && r.caTrusted) && (probe === undefined || (probe.requests > 0 && probe.refused === 0));
      if (o.json === true) printJson({ sandbox: info.name, ok, bindings: results, ...(probe ? { command: probe } : {}) });
      else {
        if (results.length === 0) out(`sandbox ${info.name} has no bindings`);
        for (const r of results) out(describe(r));
        if (probe !== undefined) out(describeProbe(probe));
      }
      if (!ok) process.exitCode = 1;
    });
}

function describe(r: BindingCheck): string {
  const what = `${r.env} -> ${r.secret} (${r.scheme}) for ${r.host}`;
  if (r.swapped) return `ok   ${what}: swapped as ${r.applied.map((a) => `${a.secret}@${a.version} in ${a.placement}`).join(', ')}; CA trusted`;
  return `FAIL ${what}: ${r.problem ?? 'not swapped'}${r.requestId ? ` (see standin log, request ${r.requestId})` : ''}`;
}

interface Probe {
  command: string;
  exitCode: number | null;
  requests: number;
  swapped: number;
  refused: number;
  /** Why requests were refused, in plain words, with how many. */
  refusals: { code: string; title: string; count: number }[];
}

function describeProbe(p: Probe): string {
  if (p.requests === 0) {
    return `FAIL command exited ${p.exitCode ?? 'by signal'} and sent nothing through the gateway: it bypasses the proxy (or made no request)`;
  }
  const why = p.refusals.map((r) => `${r.count} x ${r.code}: ${r.title}`).join('; ');
  const verdict = p.refused > 0 ? 'FAIL' : 'ok  ';
  return `${verdict} command exited ${p.exitCode ?? 'by signal'}: ${p.requests} request(s) through the gateway, ${p.swapped} swapped, ${p.refused} refused${why ? ` (${why})` : ''}`;
}

/** Runs the command with exactly the sandbox's environment and counts its rows in the network log. */
async function runProbe(ctx: CliContext, sandbox: string, command: string, env: Record<string, string>): Promise<Probe> {
  const netlog = await ctx.netlog();
  const before = await netlog.lastId();
  const exitCode = await new Promise<number | null>((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/', ...env }, stdio: 'inherit' });
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_DEADLINE_MS);
    child.once('error', () => resolve(127));
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  // The gateway writes rows in batches (50 ms): give the last ones a moment to land.
  await new Promise((r) => setTimeout(r, 300));
  // The self-tests' own rows may land after `before` too (batched): they are not the command's.
  const rows = (await netlog.query({ afterId: before, sandbox, limit: 100_000, tenant: await ctx.tenant() })).filter((r) => r.errorCode !== 'GW_CHECK_ONLY');
  const refusals = new Map<string, number>();
  for (const r of rows) if (r.errorCode !== null && (r.decision === 'denied' || r.decision === 'token_misuse')) refusals.set(r.errorCode, (refusals.get(r.errorCode) ?? 0) + 1);
  return {
    command,
    exitCode,
    refusals: [...refusals].map(([code, count]) => ({ code, title: specOf(code as GatewayErrorCode).title, count })),
    requests: rows.length,
    swapped: rows.filter((r) => r.decision === 'swapped').length,
    refused: rows.filter((r) => r.decision === 'denied' || r.decision === 'token_misuse').length,
  };
}
