import { GatewayError } from '../errors.js';
import { parseOAuth2Value, withRefreshToken, type OAuth2Config } from './oauth2-config.js';

/** What the token endpoint answered (the body bounded by the caller). */
export interface TokenEndpointReply {
  status: number;
  body: Buffer;
}

export interface AccessTokenDeps {
  /** POSTs a form to the token URL through the gateway's egress checks (proxy/token-endpoint.ts). */
  post(url: string, form: string, headers: [string, string][]): Promise<TokenEndpointReply>;
  /**
   * Stores a replaced value as a new version if `fromVersion` is still current (Store.
   * rotateSecretIfCurrent); the new version, or undefined when the secret moved on.
   */
  persist(secretId: string, environment: string, fromVersion: number, value: string): Promise<number | undefined> | number | undefined;
  clock(): number;
  /** Told (without values) when a rotated value could not be stored. */
  warn(message: string, fields: Record<string, unknown>): void;
}

/** Which stored credential an access token is for. */
export interface CredentialRef {
  secretId: string;
  environment: string;
  version: number;
}

export interface AccessTokenSource {
  /** A valid access token for this credential (cached, refreshed with single-flight). */
  get(ref: CredentialRef, value: string): Promise<string>;
}

interface Entry {
  accessToken: string;
  refreshAt: number;
  /** Versions this token stands for: the one it was fetched with and the one it stored. */
  versions: Set<number>;
  /** The latest value (a rotated refresh token) when it could not be stored: used next time. */
  value: string;
}

// A token with no expires_in is kept this long; the margin is a fifth of the lifetime, at most 5 min.
const DEFAULT_LIFETIME_MS = 300_000;
const MARGIN_SHARE = 0.2;
const MAX_MARGIN_MS = 300_000;
// What an access token may be made of to go in an Authorization header (RFC 6750 b64token, widened).
const HEADER_SAFE = /^[\x21-\x7e]{1,8192}$/;

/**
 * OAuth2 access tokens the gateway fetches itself, per secret and environment: cached until
 * shortly before they expire (a 5-second token serves for about 4 seconds), fetched once however
 * many requests wait for it, and — when the provider rotates the refresh token — the new one is
 * stored before the access token that came with it is used, so a crash cannot lose the only
 * valid copy. One instance per gateway (state of the instance, never of the module).
 */
export class AccessTokens implements AccessTokenSource {
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<Entry>>();

  constructor(private readonly deps: AccessTokenDeps) {}

  async get(ref: CredentialRef, value: string): Promise<string> {
    const key = `${ref.secretId}\u0000${ref.environment}`;
    const cached = this.#entries.get(key);
    if (cached !== undefined && cached.versions.has(ref.version) && this.deps.clock() < cached.refreshAt) return cached.accessToken;
    const flightKey = `${key}\u0000${ref.version}`;
    let flight = this.#inflight.get(flightKey);
    if (flight === undefined) {
      const latest = cached !== undefined && cached.versions.has(ref.version) ? cached.value : value;
      flight = this.#fetch(key, ref, latest).finally(() => this.#inflight.delete(flightKey));
      this.#inflight.set(flightKey, flight);
    }
    return (await flight).accessToken;
  }

  async #fetch(key: string, ref: CredentialRef, value: string): Promise<Entry> {
    const config = parseOAuth2Value(value);
    if (typeof config === 'string') throw new GatewayError('GW_SECRET_UNFIT', `oauth2 value: ${config}`);
    const started = this.deps.clock();
    const reply = await this.deps.post(config.tokenUrl, tokenForm(config), tokenHeaders(config));
    if (reply.status !== 200) throw new GatewayError('GW_TOKEN_EXCHANGE', `token endpoint answered ${reply.status}`);
    const answer = parseTokenReply(reply.body);
    const entry: Entry = { accessToken: answer.accessToken, refreshAt: 0, versions: new Set([ref.version]), value };
    if (config.refreshToken !== undefined && answer.refreshToken !== undefined && answer.refreshToken !== config.refreshToken) {
      entry.value = withRefreshToken(value, answer.refreshToken);
      await this.#store(ref, entry);
    }
    const lifetime = answer.expiresInMs ?? DEFAULT_LIFETIME_MS;
    entry.refreshAt = started + lifetime - Math.min(lifetime * MARGIN_SHARE, MAX_MARGIN_MS);
    this.#entries.set(key, entry);
    return entry;
  }

  async #store(ref: CredentialRef, entry: Entry): Promise<void> {
    try {
      const next = await this.deps.persist(ref.secretId, ref.environment, ref.version, entry.value);
      if (next !== undefined) entry.versions.add(next);
      else this.deps.warn('rotated refresh token not stored: the secret changed meanwhile', { secretId: ref.secretId, environment: ref.environment });
    } catch {
      // Kept in memory (entry.value) and used for the next refresh; the operator is told.
      this.deps.warn('rotated refresh token could not be stored', { secretId: ref.secretId, environment: ref.environment });
    }
  }
}

function tokenForm(c: OAuth2Config): string {
  const form = new URLSearchParams();
  if (c.refreshToken !== undefined) {
    form.set('grant_type', 'refresh_token');
    form.set('refresh_token', c.refreshToken);
  } else {
    form.set('grant_type', 'client_credentials');
  }
  if (c.scope !== undefined) form.set('scope', c.scope);
  if (c.clientAuth === 'post') {
    form.set('client_id', c.clientId);
    form.set('client_secret', c.clientSecret);
  }
  return form.toString();
}

function tokenHeaders(c: OAuth2Config): [string, string][] {
  const headers: [string, string][] = [['Content-Type', 'application/x-www-form-urlencoded'], ['Accept', 'application/json']];
  if (c.clientAuth === 'basic') {
    // RFC 6749 §2.3.1: each part form-encoded before Basic.
    const enc = (s: string): string => new URLSearchParams({ v: s }).toString().slice(2);
    headers.push(['Authorization', `Basic ${Buffer.from(`${enc(c.clientId)}:${enc(c.clientSecret)}`).toString('base64')}`]);
  }
  return headers;
}

function parseTokenReply(body: Buffer): { accessToken: string; refreshToken?: string; expiresInMs?: number } {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new GatewayError('GW_TOKEN_EXCHANGE', 'token endpoint answer is not JSON');
  }
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const access = d['access_token'];
  if (typeof access !== 'string' || !HEADER_SAFE.test(access)) throw new GatewayError('GW_TOKEN_EXCHANGE', 'token endpoint gave no usable access_token');
  const type = d['token_type'];
  if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer')) throw new GatewayError('GW_TOKEN_EXCHANGE', 'token endpoint gave a token that is not a Bearer token');
  const refresh = typeof d['refresh_token'] === 'string' && d['refresh_token'] !== '' ? d['refresh_token'] : undefined;
  const raw = d['expires_in'];
  const seconds = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,10}$/.test(raw) ? Number(raw) : undefined;
  const out: { accessToken: string; refreshToken?: string; expiresInMs?: number } = { accessToken: access };
  if (refresh !== undefined) out.refreshToken = refresh;
  if (seconds !== undefined && Number.isFinite(seconds) && seconds > 0) out.expiresInMs = seconds * 1000;
  return out;
}
