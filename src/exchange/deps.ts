import type { SandboxInfo, TokenResolution, UnboundSecret } from '../model/secrets.js';
import type { SelfAddresses } from '../policy/egress.js';
import type { ResolverOptions } from '../policy/types.js';
import type { SecretValue } from '../secret-value.js';
import type { AccessTokenSource } from '../swap/access-tokens.js';
import type { ReflectionCache } from '../swap/reflection-cache.js';
import type { SchemeRegistry } from '../swap/schemes/registry.js';

/** The reads the pipeline makes per request; the store provides them from memory (memoised). */
export interface ExchangeLookups {
  getSandboxById(id: string): SandboxInfo | undefined;
  resolveToken(token: string): TokenResolution | undefined;
  tokensOfSandbox(sandboxId: string): readonly string[];
  unboundSecrets(sandboxId: string): readonly UnboundSecret[];
}

/** Everything the pipeline needs, passed in: it opens no socket and keeps no state of its own. */
export interface PipelineDeps {
  lookups: ExchangeLookups;
  /** Decrypted value of one version (cached by the caller); throws when it cannot be decrypted. */
  secretValue(secretId: string, version: number): SecretValue;
  reflections: ReflectionCache;
  schemes: SchemeRegistry;
  /** DNS and address policy, for destinations checked per request (plain HTTP). */
  resolver: ResolverOptions;
  self: SelfAddresses;
  clock: () => number;
  /** Largest request body a credential step may read whole. */
  maxBodyBytes: number;
  /** How long after an unbind (or a replaced binding) the secret's values are still scrubbed. */
  unboundScrubMs: number;
  /** OAuth2 access tokens the gateway fetches itself; absent: oauth2 secrets cannot be applied. */
  accessTokens?: AccessTokenSource;
}
