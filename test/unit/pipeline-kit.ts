import { GatewayError } from '../../src/errors.js';
import type { PipelineDeps } from '../../src/exchange/deps.js';
import { Exchange, type Protocol } from '../../src/exchange/exchange.js';
import type { ExchangeInput, Forward } from '../../src/exchange/flow.js';
import { decide, type Step } from '../../src/exchange/pipeline.js';
import type { HeaderList } from '../../src/model/headers.js';
import type { SandboxInfo, SchemeSpec, SecretInfo, TokenResolution, UnboundSecret } from '../../src/model/secrets.js';
import type { CheckedAddress, Target } from '../../src/model/target.js';
import { SecretValue } from '../../src/secret-value.js';
import { ReflectionCache } from '../../src/swap/reflection-cache.js';
import { SCHEMES, type SchemeRegistry } from '../../src/swap/schemes/registry.js';

/** Plain objects for running the whole pipeline without a socket, a store or a clock of its own. */

export const TARGET: Target = { host: 'api.example.com', port: 443, kind: 'name' };
export const ADDRESS: CheckedAddress = { address: '93.184.216.34', family: 4 };

export function sandbox(id = 'sb1', over: Partial<SandboxInfo> = {}): SandboxInfo {
  return { id, tenant: 'default', name: id, environment: 'default', allowHosts: [], createdAt: 0, ...over };
}

export function secret(name: string, scheme: SchemeSpec, hosts = ['api.example.com']): SecretInfo {
  return {
    id: `id-${name}`, tenant: 'default', name, scheme, hosts, provider: null, currentVersion: 3, versions: [1, 2, 3],
    environments: [{ name: 'default', currentVersion: 3, versions: [1, 2, 3] }], createdAt: 0, updatedAt: 0,
  };
}

export interface World {
  sandboxes: SandboxInfo[];
  /** token -> what it resolves to */
  tokens: Map<string, TokenResolution>;
  /** secret id -> real value (a missing one cannot be decrypted) */
  values: Record<string, string>;
  schemes?: SchemeRegistry;
  unbound?: (UnboundSecret & { sandboxId: string })[];
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
  now?: number;
  accessTokens?: PipelineDeps['accessTokens'];
}

export function depsOf(world: World): PipelineDeps {
  return {
    lookups: {
      getSandboxById: (id) => world.sandboxes.find((s) => s.id === id),
      resolveToken: (t) => world.tokens.get(t),
      tokensOfSandbox: (id) => [...world.tokens.values()].filter((r) => r.sandboxId === id).map((r) => r.token),
      unboundSecrets: (id) => (world.unbound ?? []).filter((u) => u.sandboxId === id),
    },
    secretValue: (id) => {
      const v = world.values[id];
      if (v === undefined) throw new Error('cannot decrypt');
      return new SecretValue(v);
    },
    reflections: new ReflectionCache(100),
    schemes: world.schemes ?? SCHEMES,
    resolver: { overrides: new Map(), allowDest: [], lookup: world.lookup ?? (async () => [{ address: ADDRESS.address, family: 4 }]) },
    self: { ports: new Set(), addresses: new Set() },
    clock: () => world.now ?? 1_700_000_000_000,
    maxBodyBytes: 1024,
    unboundScrubMs: 3_600_000,
    ...(world.accessTokens === undefined ? {} : { accessTokens: world.accessTokens }),
  };
}

export interface Req {
  headers?: HeaderList;
  path?: string;
  method?: string;
  httpVersion?: string;
  protocol?: Protocol;
  target?: Target;
  sandbox?: SandboxInfo;
  body?: Buffer;
  /** Host header added unless false (tunnel requests need one). */
  host?: boolean;
}

export function inputOf(r: Req): ExchangeInput {
  const protocol = r.protocol ?? 'http/1.1';
  const target = r.target ?? TARGET;
  const path = r.path ?? '/v1';
  const headers: HeaderList = [...(r.host === false ? [] : [['Host', target.host] as [string, string]]), ...(r.headers ?? [])];
  const body = r.body;
  const exchange = new Exchange(0, protocol, r.method ?? 'GET');
  exchange.setPath(path);
  return {
    exchange,
    sandbox: r.sandbox ?? sandbox(),
    target,
    address: protocol === 'http' ? undefined : ADDRESS,
    head: { httpVersion: r.httpVersion ?? '1.1', method: r.method ?? 'GET', url: path, headers },
    path,
    body: {
      present: body !== undefined,
      read: async (limit) => {
        if (body === undefined) return Buffer.alloc(0);
        if (body.length > limit) throw new GatewayError('GW_BODY_TOO_LARGE');
        return body;
      },
    },
  };
}

export type Outcome = { ok: true; fwd: Forward; ex: Exchange } | { ok: false; error: GatewayError; ex: Exchange };

export async function run(world: World, r: Req, steps?: readonly Step[]): Promise<Outcome> {
  const input = inputOf(r);
  try {
    const fwd = await decide(input, depsOf(world), steps);
    return { ok: true, fwd, ex: input.exchange };
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e;
    input.exchange.fail(e);
    return { ok: false, error: e, ex: input.exchange };
  }
}

/** The refusal code, or 'forwarded'. */
export function codeOf(o: Outcome): string {
  return o.ok ? 'forwarded' : o.error.code;
}
