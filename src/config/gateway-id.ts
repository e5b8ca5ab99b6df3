import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { errnoCode } from './home.js';

/**
 * A gateway's id: what every network-log row it writes carries, and whose hash chain it extends.
 * Stable for a gateway, so a restarted gateway continues its own chain: `serve --gateway-id`, else
 * $STANDIN_GATEWAY_ID, else the one kept in the home (`gateway-id`, made on first use from the host
 * name and a random suffix). Letters, digits, `.`, `_`, `-`: it is shown in tables, printed in
 * heads (`GATEWAY:SEQ:HASH`) and safe in file names.
 */
export const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isGatewayId(v: string): boolean {
  return GATEWAY_ID.test(v);
}

export const GATEWAY_ID_FILE = 'gateway-id';

export function resolveGatewayId(home: string, given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (given !== undefined) return given;
  const fromEnv = env['STANDIN_GATEWAY_ID']?.trim();
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isGatewayId(fromEnv)) throw new RuntimeError("invalid STANDIN_GATEWAY_ID: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
    return fromEnv;
  }
  return homeGatewayId(home);
}

/** The home's id, made once; two gateways starting on one home at once agree on the first one written. */
export function homeGatewayId(home: string): string {
  const file = join(home, GATEWAY_ID_FILE);
  const read = (): string | undefined => {
    try {
      const v = readFileSync(file, 'utf8').trim();
      return isGatewayId(v) ? v : undefined;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw new RuntimeError(`cannot read ${file}: ${errnoCode(e) ?? 'unknown error'}`);
    }
  };
  const existing = read();
  if (existing !== undefined) return existing;
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 48) || 'gateway';
  const made = `${host}-${randomBytes(3).toString('hex')}`;
  // Written whole under another name, then linked: a reader never sees a half-written file, and
  // the link fails (EEXIST) for the second of two gateways starting at once.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, `${made}\n`, { flag: 'wx', mode: 0o644 });
    linkSync(tmp, file);
    return made;
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw new RuntimeError(`cannot write ${file}: ${errnoCode(e) ?? 'unknown error'}`);
  } finally {
    rmSync(tmp, { force: true });
  }
  const other = read();
  if (other === undefined) throw new RuntimeError(`${file} does not hold a gateway id: remove it, or pass serve --gateway-id`);
  return other;
}
