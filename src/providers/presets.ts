import type { SchemeSpec } from '../model/secrets.js';

/**
 * The provider presets as data. Each entry was written from the provider's public API
 * documentation (`docs` links the page that says how the credential is sent) and checked against
 * what the official SDKs send and read (`notes`; issue 17: openai 6, @anthropic-ai/sdk 1.15,
 * @octokit/rest 22, stripe 23, @google/genai 2, @mistralai/mistralai 2, groq-sdk 1,
 * @huggingface/inference 4, @gitbeaker 43, @vercel/sdk 1, cloudflare 7, @notionhq/client 5,
 * @linear/sdk 98, resend 6, @sendgrid/client 8, @slack/web-api 8, twilio 6, @openrouter/sdk 1;
 * Python openai 3, anthropic 1, google-genai 2, groq 1, huggingface_hub 2, PyGithub 2).
 *
 * Hosts are deliberately narrow (the API hosts only): a wider scope is one explicit `--hosts` away,
 * while a preset that is too wide would send a credential somewhere nobody asked for. Token
 * prefixes only exist so that client-side format checks accept the stand-in; they must be
 * [A-Za-z0-9_-] (see model/token-format.ts), which rules out SendGrid's `SG.`.
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
  /** What a user should know that the fields above do not say. */
  notes?: string;
}

const bearer: SchemeSpec = { kind: 'bearer' };

export const PRESETS: readonly Provider[] = [
  {
    id: 'anthropic', name: 'Anthropic',
    // The Python SDK sends X-Api-Key (_client.py _api_key_auth); the Node SDK sends the same key as
    // Authorization: Bearer (@anthropic-ai/sdk 1.x client.ts apiKeyAuth), as does ANTHROPIC_AUTH_TOKEN.
    scheme: { kind: 'multi', placements: [{ kind: 'header', header: 'x-api-key' }, bearer] },
    hosts: ['api.anthropic.com'], env: 'ANTHROPIC_API_KEY', tokenPrefix: 'sk-ant-',
    docs: 'https://docs.anthropic.com/en/api/overview',
    notes: 'SDKs read ANTHROPIC_API_KEY (and ANTHROPIC_AUTH_TOKEN, sent as Bearer) and ANTHROPIC_BASE_URL; Python sends x-api-key, Node sends Authorization: Bearer: both are swapped',
  },
  {
    id: 'openai', name: 'OpenAI', scheme: bearer,
    hosts: ['api.openai.com'], env: 'OPENAI_API_KEY', tokenPrefix: 'sk-',
    docs: 'https://platform.openai.com/docs/api-reference/authentication',
    notes: 'SDKs (Node openai, Python openai) read OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID and send Authorization: Bearer',
  },
  {
    id: 'gemini', name: 'Google Gemini',
    scheme: { kind: 'multi', placements: [{ kind: 'header', header: 'x-goog-api-key' }, { kind: 'query', param: 'key' }] },
    hosts: ['generativelanguage.googleapis.com'], env: 'GEMINI_API_KEY', tokenPrefix: 'AIza',
    docs: 'https://ai.google.dev/gemini-api/docs/api-key',
    notes: 'SDKs (@google/genai, google-genai) send x-goog-api-key and read GEMINI_API_KEY, but GOOGLE_API_KEY wins when both are set: bind the one your code reads',
  },
  {
    id: 'openrouter', name: 'OpenRouter', scheme: { kind: 'multi', placements: [bearer, { kind: 'header', header: 'x-api-key' }] },
    hosts: ['openrouter.ai'], env: 'OPENROUTER_API_KEY', tokenPrefix: 'sk-or-v1-',
    docs: 'https://openrouter.ai/docs/api-reference/authentication',
    notes: 'OpenAI-compatible: the openai SDKs with baseURL https://openrouter.ai/api/v1 send Bearer; @openrouter/sdk sends Bearer and reads no env var (pass process.env.OPENROUTER_API_KEY)',
  },
  {
    id: 'mistral', name: 'Mistral AI', scheme: bearer,
    hosts: ['api.mistral.ai', 'api.eu.mistral.ai', 'api.us.mistral.ai'], env: 'MISTRAL_API_KEY', tokenPrefix: '',
    docs: 'https://docs.mistral.ai/api/',
    notes: '@mistralai/mistralai sends Authorization: Bearer; the Node client takes apiKey from code (process.env.MISTRAL_API_KEY)',
  },
  {
    id: 'groq', name: 'Groq', scheme: bearer,
    hosts: ['api.groq.com'], env: 'GROQ_API_KEY', tokenPrefix: 'gsk_',
    docs: 'https://console.groq.com/docs/api-reference',
    notes: 'groq-sdk (Node) and groq (Python) read GROQ_API_KEY and send Bearer',
  },
  {
    id: 'huggingface', name: 'Hugging Face', scheme: bearer,
    hosts: ['huggingface.co', '*.huggingface.co', '*.endpoints.huggingface.cloud'], env: 'HF_TOKEN', tokenPrefix: 'hf_',
    docs: 'https://huggingface.co/docs/hub/security-tokens',
    notes: 'covers the Hub, its file CDN and the inference router (router.huggingface.co); huggingface_hub and @huggingface/inference (token from code) send Bearer',
  },
  {
    id: 'github', name: 'GitHub (API and git over HTTPS)',
    scheme: { kind: 'multi', placements: [bearer, { kind: 'basic', user: 'x-access-token' }] },
    hosts: ['api.github.com', 'github.com', 'uploads.github.com'], env: 'GITHUB_TOKEN', tokenPrefix: 'ghp_',
    docs: 'https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api',
    notes: 'Octokit and PyGithub send Authorization: token <t> (Octokit: bearer for JWTs), git Basic with any user and the token as password; all are swapped (upstream gets x-access-token:<value> for Basic). Octokit reads no env var (auth: process.env.GITHUB_TOKEN); gh also reads GH_TOKEN',
  },
  {
    id: 'gitlab', name: 'GitLab.com (API and git over HTTPS)',
    scheme: { kind: 'multi', placements: [{ kind: 'header', header: 'private-token' }, bearer, { kind: 'basic' }] },
    hosts: ['gitlab.com'], env: 'GITLAB_TOKEN', tokenPrefix: 'glpat-',
    docs: 'https://docs.gitlab.com/api/rest/authentication/',
    notes: '@gitbeaker sends private-token (token), Authorization: Bearer (oauthToken); CI job tokens (job-token header) are not covered. Self-managed GitLab: give --hosts gitlab.example.com',
  },
  {
    id: 'vercel', name: 'Vercel', scheme: bearer,
    hosts: ['api.vercel.com'], env: 'VERCEL_TOKEN', tokenPrefix: '',
    docs: 'https://vercel.com/docs/rest-api',
    notes: '@vercel/sdk sends Bearer (bearerToken option) and reads no env var: pass process.env.VERCEL_TOKEN',
  },
  {
    id: 'cloudflare', name: 'Cloudflare (API token)', scheme: bearer,
    hosts: ['api.cloudflare.com'], env: 'CLOUDFLARE_API_TOKEN', tokenPrefix: '',
    docs: 'https://developers.cloudflare.com/fundamentals/api/get-started/create-token/',
    notes: 'the cloudflare SDK reads CLOUDFLARE_API_TOKEN and sends Bearer; legacy global keys (CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL, sent as X-Auth-Key/X-Auth-Email) need --scheme header:x-auth-key',
  },
  {
    id: 'stripe', name: 'Stripe', scheme: { kind: 'multi', placements: [bearer, { kind: 'basic' }] },
    hosts: ['api.stripe.com', 'files.stripe.com'], env: 'STRIPE_SECRET_KEY', tokenPrefix: 'sk_',
    docs: 'https://docs.stripe.com/api/authentication',
    notes: 'stripe-node reads no env var (new Stripe(process.env.STRIPE_SECRET_KEY)), sends Bearer over node:https with its own keep-alive agent (covered by the Node preload); Basic carries the key as the user with an empty password; the stripe CLI reads STRIPE_API_KEY; stripe-python verifies TLS against its own bundled CA file, not SSL_CERT_FILE: set stripe.ca_bundle_path = os.environ["SSL_CERT_FILE"]',
  },
  {
    id: 'notion', name: 'Notion', scheme: bearer,
    hosts: ['api.notion.com'], env: 'NOTION_TOKEN', tokenPrefix: 'ntn_',
    docs: 'https://developers.notion.com/reference/authentication',
    notes: '@notionhq/client sends Bearer and reads no env var (auth: process.env.NOTION_TOKEN)',
  },
  {
    id: 'linear', name: 'Linear (personal API key)', scheme: { kind: 'header', header: 'authorization', template: '{{value}}' },
    hosts: ['api.linear.app'], env: 'LINEAR_API_KEY', tokenPrefix: 'lin_api_',
    docs: 'https://linear.app/developers/graphql',
    notes: 'personal keys go in Authorization without "Bearer" (@linear/sdk apiKey); OAuth tokens (accessToken) need --scheme bearer. The SDK reads no env var',
  },
  {
    id: 'resend', name: 'Resend', scheme: bearer,
    hosts: ['api.resend.com'], env: 'RESEND_API_KEY', tokenPrefix: 're_',
    docs: 'https://resend.com/docs/api-reference/introduction',
    notes: 'resend (Node) reads RESEND_API_KEY and sends Bearer',
  },
  {
    id: 'sendgrid', name: 'Twilio SendGrid', scheme: bearer,
    hosts: ['api.sendgrid.com', 'api.eu.sendgrid.com'], env: 'SENDGRID_API_KEY', tokenPrefix: '',
    docs: 'https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/authentication',
    notes: 'real keys start with "SG."; a stand-in cannot (no "." in token prefixes), @sendgrid/client logs a warning and works; it sends Bearer and reads no env var',
  },
  {
    id: 'slack', name: 'Slack (bot token)', scheme: bearer,
    hosts: ['slack.com', 'files.slack.com'], env: 'SLACK_BOT_TOKEN', tokenPrefix: 'xoxb-',
    docs: 'https://api.slack.com/authentication/token-types',
    notes: '@slack/web-api sends Bearer and reads no env var (new WebClient(process.env.SLACK_BOT_TOKEN)); a token sent in a form body (token=...) is not swapped: use the Authorization header',
  },
  {
    id: 'twilio', name: 'Twilio', scheme: { kind: 'basic' },
    hosts: ['*.twilio.com'], env: 'TWILIO_AUTH_TOKEN', tokenPrefix: '',
    docs: 'https://www.twilio.com/docs/usage/requests-to-twilio',
    notes: 'the value is the auth token (or API key secret); the sandbox sends its Account SID (or API key SID) as the Basic user. twilio (Node) reads TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN',
  },
  {
    id: 'telegram', name: 'Telegram Bot API', scheme: { kind: 'path' },
    hosts: ['api.telegram.org'], env: 'TELEGRAM_BOT_TOKEN', tokenPrefix: '',
    docs: 'https://core.telegram.org/bots/api#making-requests',
    notes: 'the token is in the path (/bot<token>/METHOD, files at /file/bot<token>/PATH); the stand-in has no colon, so libraries that check the id:secret shape (aiogram) reject it',
  },
  {
    id: 'aws', name: 'Amazon Web Services (SigV4)', scheme: { kind: 'sigv4' },
    hosts: ['*.amazonaws.com'], env: 'AWS_ACCESS_KEY_ID', tokenPrefix: 'sigv4-',
    docs: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html',
    notes: 'the value is ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]; sandbox env exports a stand-in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the gateway verifies the stand-in signature and re-signs (presigned URLs and signed aws-chunked uploads too; signed trailers are refused)',
  },
];
