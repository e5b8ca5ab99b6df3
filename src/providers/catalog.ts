import type { SchemeSpec } from '../store/types.js';

/**
 * Presets for well-known APIs: how the credential is sent, where it may go, the env var client
 * libraries read it from, and the prefix their format checks expect. `secret create --provider`
 * takes the scheme and hosts from here; binding such a secret gives its token the prefix.
 *
 * Hosts are deliberately narrow (the API host only): a wider scope is one explicit `--hosts` away,
 * while a preset that is too wide would send a credential somewhere nobody asked for.
 */
export interface Provider {
  id: string;
  name: string;
  scheme: SchemeSpec;
  hosts: string[];
  env: string;
  /** Prepended to the stand-in token so that client-side key format checks accept it. */
  tokenPrefix: string;
  docs: string;
}

const PROVIDERS: readonly Provider[] = [
  {
    id: 'anthropic',
    name: 'Anthropic',
    scheme: { kind: 'header', header: 'x-api-key' },
    hosts: ['api.anthropic.com'],
    env: 'ANTHROPIC_API_KEY',
    tokenPrefix: 'sk-ant-',
    docs: 'https://docs.anthropic.com/en/api/getting-started',
  },
  {
    id: 'openai',
    name: 'OpenAI',
    scheme: { kind: 'bearer' },
    hosts: ['api.openai.com'],
    env: 'OPENAI_API_KEY',
    tokenPrefix: 'sk-',
    docs: 'https://platform.openai.com/docs/api-reference/authentication',
  },
  {
    id: 'github',
    name: 'GitHub',
    scheme: { kind: 'bearer' },
    hosts: ['api.github.com'],
    env: 'GITHUB_TOKEN',
    tokenPrefix: 'ghp_',
    docs: 'https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api',
  },
  {
    id: 'gemini',
    name: 'Google Gemini',
    scheme: { kind: 'header', header: 'x-goog-api-key' },
    hosts: ['generativelanguage.googleapis.com'],
    env: 'GEMINI_API_KEY',
    tokenPrefix: '',
    docs: 'https://ai.google.dev/gemini-api/docs/api-key',
  },
  {
    id: 'openrouter',
    name: 'OpenRouter',
    scheme: { kind: 'bearer' },
    hosts: ['openrouter.ai'],
    env: 'OPENROUTER_API_KEY',
    tokenPrefix: 'sk-or-',
    docs: 'https://openrouter.ai/docs/api-reference/authentication',
  },
];

/** Case-insensitive lookup by id; undefined for an unknown provider. */
export function findProvider(id: string): Provider | undefined {
  const wanted = id.trim().toLowerCase();
  const found = PROVIDERS.find((p) => p.id === wanted);
  return found === undefined ? undefined : copy(found);
}

/** Every provider, ordered by id. */
export function listProviders(): Provider[] {
  return PROVIDERS.map(copy).sort((a, b) => a.id.localeCompare(b.id));
}

// Callers get their own copies: the catalogue is shared data and must not be edited through them.
function copy(p: Provider): Provider {
  return { ...p, scheme: { ...p.scheme }, hosts: [...p.hosts] };
}
