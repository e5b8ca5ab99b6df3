import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { homeGatewayId, resolveGatewayId } from '../../src/config/gateway-id.js';
import { parseServeOptions } from '../../src/cli/serve-options.js';

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-gwid-'));
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

describe('gateway id', () => {
  it('is made once per home and kept, so a restarted gateway continues its chain', () => {
    const first = homeGatewayId(home);
    expect(first).toMatch(/^[A-Za-z0-9][A-Za-z0-9.-]*-[0-9a-f]{6}$/);
    expect(homeGatewayId(home)).toBe(first);
    expect(fs.readFileSync(path.join(home, 'gateway-id'), 'utf8')).toBe(`${first}\n`);
    expect(fs.readdirSync(home)).toEqual(['gateway-id']);
  });

  it('takes the flag, then STANDIN_GATEWAY_ID, then the home; a bad one is refused', () => {
    expect(resolveGatewayId(home, 'gw-flag', { STANDIN_GATEWAY_ID: 'gw-env' })).toBe('gw-flag');
    expect(resolveGatewayId(home, undefined, { STANDIN_GATEWAY_ID: 'gw-env' })).toBe('gw-env');
    expect(resolveGatewayId(home, undefined, {})).toBe(homeGatewayId(home));
    expect(() => resolveGatewayId(home, undefined, { STANDIN_GATEWAY_ID: 'a b' })).toThrow(/invalid STANDIN_GATEWAY_ID/);
    const base = { listen: '127.0.0.1:0', upstreamCa: [], resolve: [], allowDest: [], logLevel: 'info' };
    expect(parseServeOptions({ ...base, gatewayId: 'gw-1.zone_a' }).gatewayId).toBe('gw-1.zone_a');
    for (const bad of ['', '-x', 'a:b', 'x'.repeat(65), 'a/b']) {
      expect(() => parseServeOptions({ ...base, gatewayId: bad }), bad).toThrow(/--gateway-id/);
    }
  });
});
