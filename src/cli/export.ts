import { closeSync, openSync, readSync } from 'node:fs';
import type { Command } from 'commander';
import { errnoCode } from '../config/home.js';
import { UsageError } from '../errors.js';
import { parseHostPattern } from '../policy/host-pattern.js';
import { tokenPrefixFor } from '../providers/catalog.js';
import { escapeForTerminal } from '../netlog/sanitize.js';
import { checkEnv, checkName } from '../store/validate.js';
import { definitionProblems, exportDefinitions, type Definitions, type SandboxDefinition, type SecretDefinition } from '../store/definitions.js';
import { importDefinitions, isShortfall, type ImportItem } from '../store/import-definitions.js';
import { formatSchemeSpec, parseSchemeSpec } from '../swap/scheme-spec.js';
import type { CliContext } from './context.js';
import { UsageProblems } from './errors.js';
import { out, printJson } from './output.js';

const MAX_FILE_BYTES = 1024 * 1024;

/**
 * `standin export` / `standin import FILE`: secret definitions and sandbox bindings as JSON that
 * carries references, never values, tokens or proxy keys. Import creates the sandboxes and
 * bindings that are missing, for secrets that already exist; it never creates a secret (its value
 * is not in the file), never changes or deletes anything, and reports what it could not do. It
 * applies in one transaction, and exits 1 when the result falls short of the file.
 */
export function registerExport(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description('print secret definitions and sandbox bindings as JSON (no values, tokens or keys)')
    .option('--json', 'JSON (the only format; accepted for symmetry with other commands)')
    .action(async () => {
      printJson(await exportDefinitions(await ctx.store(), formatSchemeSpec));
    });

  program
    .command('import <file>')
    .description('create missing sandboxes and bindings from an export; reports secrets that must be created first')
    .option('--dry-run', 'show what would happen, change nothing')
    .option('--json', 'one JSON document: { applied, complete, items }')
    .action(async (file: string, o: { dryRun?: boolean; json?: boolean }) => {
      const defs = readDefinitions(file);
      const store = await ctx.store();
      const hooks = { formatScheme: formatSchemeSpec, normalizeScheme: (t: string) => formatSchemeSpec(parseSchemeSpec(t)), tokenPrefixFor };
      let items: ImportItem[] = [];
      const rollback = new Error('dry run');
      try {
        await store.transaction(async (t) => {
          items = await importDefinitions(t, defs, ctx.actor(), hooks);
          if (o.dryRun === true) throw rollback;
        });
      } catch (e) {
        if (e !== rollback) throw e;
      }
      const shortfall = items.filter(isShortfall);
      if (o.json === true) printJson({ applied: o.dryRun !== true, complete: shortfall.length === 0, items });
      else for (const line of items.map(describe).filter((l) => l !== '')) out(escapeForTerminal(o.dryRun === true ? `(dry run) ${line}` : line));
      if (shortfall.length > 0) {
        process.stderr.write(`standin: import incomplete: ${shortfall.length} item(s) need attention\n`);
        process.exitCode = 1;
      }
    });
}

function readDefinitions(file: string): Definitions {
  let doc: unknown;
  try {
    doc = JSON.parse(readBounded(file));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // JSON.parse's message quotes the text around the error; the file is ours to describe, not echo.
    throw new UsageError(`${file} is not valid JSON`);
  }
  const problems = definitionProblems(doc);
  const defs = doc as Definitions;
  // Contents are checked wherever the shape allows, so that every problem is reported at once.
  const str = (v: unknown): v is string => typeof v === 'string';
  const arr = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
  if (typeof doc === 'object' && doc !== null) {
    arr<Partial<SecretDefinition> | null>(defs.secrets).forEach((s, i) => {
      if (str(s?.name)) check(problems, `secrets[${i}].name`, () => checkName('secret', s.name ?? ''));
      if (str(s?.scheme)) check(problems, `secrets[${i}].scheme`, () => parseSchemeSpec(s.scheme ?? ''));
      arr<unknown>(s?.hosts).filter(str).forEach((h) => check(problems, `secrets[${i}].hosts`, () => parseHostPattern(h)));
    });
    arr<Partial<SandboxDefinition> | null>(defs.sandboxes).forEach((x, i) => {
      if (str(x?.name)) check(problems, `sandboxes[${i}].name`, () => checkName('sandbox', x.name ?? ''));
      arr<unknown>(x?.allowHosts).filter(str).forEach((h) => check(problems, `sandboxes[${i}].allowHosts`, () => parseHostPattern(h)));
      const bindings = typeof x?.bindings === 'object' && x.bindings !== null ? x.bindings : {};
      for (const [env, secret] of Object.entries(bindings)) {
        check(problems, `sandboxes[${i}].bindings`, () => checkEnv(env));
        if (str(secret)) check(problems, `sandboxes[${i}].bindings.${env.slice(0, 40)}`, () => checkName('secret', secret));
      }
    });
  }
  if (problems.length > 0) throw new UsageProblems(problems.map((p) => `${file}: ${p}`));
  return { version: 1, secrets: defs.secrets ?? [], sandboxes: defs.sandboxes ?? [] };
}

function check(problems: string[], at: string, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    problems.push(`${at}: ${e instanceof UsageError ? e.message : 'invalid'}`);
  }
}

function readBounded(file: string): string {
  const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
  let size = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    for (let n = -1; n !== 0 && size < buf.length; size += n) n = readSync(fd, buf, size, buf.length - size, null);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${errnoCode(e) ?? 'unknown error'}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (size > MAX_FILE_BYTES) throw new UsageError(`${file} is larger than 1 MiB`);
  return buf.subarray(0, size).toString('utf8');
}

function describe(item: ImportItem): string {
  switch (item.kind) {
    case 'secret-present':
    case 'sandbox-present':
      return '';
    case 'secret-missing': {
      const how = item.provider !== null ? `--provider ${item.provider} --scheme '${item.scheme}'` : `--scheme '${item.scheme}'`;
      return `missing secret ${item.name}: create it with \`standin secret create ${item.name} ${how} --hosts ${item.hosts.join(',')} --value-stdin\``;
    }
    case 'secret-differs':
      return `secret ${item.name} differs: ${item.field} is ${item.existing} here, ${item.imported} in the file (not changed)`;
    case 'sandbox-created':
      return `created sandbox ${item.name}${item.bindings.length > 0 ? ` with ${item.bindings.join(', ')}` : ''}`;
    case 'sandbox-allow-hosts-differ':
      return `sandbox ${item.name} differs: allowed hosts are ${item.existing.join(',') || '(any)'} here, ${item.imported.join(',') || '(any)'} in the file (not changed)`;
    case 'binding-added':
      return `bound ${item.env} to secret ${item.secret} in sandbox ${item.sandbox}`;
    case 'binding-skipped':
      return `skipped ${item.env}=${item.secret} in sandbox ${item.sandbox}: ${item.why}`;
  }
}

