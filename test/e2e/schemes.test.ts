import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProvider } from '../../src/providers/catalog.js';
import { SecretValue } from '../../src/secret-value.js';
import { formatSchemeSpec, parseSchemeSpec } from '../../src/swap/scheme-spec.js';
import { basicAuth, viaProxy } from '../helpers/client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// Declared schemes (templates, Basic with a fixed user, query, several placements) through the
// real proxy: the upstream receives exactly the expected credential, the sandbox never sees it.
const REAL = {
  template: 'tmpl-REAL-4b8e1f0c9a',
  bot: 'bot-REAL-7d2a9c4e1b',
  git: 'ghp-REAL-1c5f8a2e7d',
  multi: 'multi-REAL-9e3b6d0a4c',
};

let h: Harness;
let api: string;
let tokens: Record<string, string>;

interface Echo { rawHeaders: string[]; url: string; headers: Record<string, string> }

beforeAll(async () => {
  h = await startHarness();
  api = `https://api.standin.test:${h.upstream.port}`;
  const hosts = [`api.standin.test:${h.upstream.port}`];
  const create = (name: string, scheme: string, value: string): void => {
    h.store.createSecret({ name, scheme: parseSchemeSpec(scheme), hosts, value: new SecretValue(value), actor: 'test' });
  };
  create('tmpl', 'header:x-auth=Token {{value}}', REAL.template);
  create('bot', 'header:authorization=Bot {{value}}', REAL.bot);
  create('git', formatSchemeSpec(findProvider('github')!.scheme), REAL.git);
  create('multi', 'header:x-goog-api-key,query:key,bearer', REAL.multi);
  const sb = h.store.createSandbox({
    name: 'agent',
    allowHosts: [],
    bindings: ['tmpl', 'bot', 'git', 'multi'].map((s) => ({ env: s.toUpperCase(), secretName: s })),
    actor: 'test',
  });
  tokens = Object.fromEntries(sb.bindings.map((b) => [b.secretName, b.token]));
});

afterAll(async () => {
  await h.close();
});

async function send(headers: Record<string, string>, path = '/echo'): Promise<{ status: number; body: string; sent: Echo | undefined }> {
  const before = h.upstream.received.length;
  const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}${path}`, { headers });
  for (const v of Object.values(REAL)) {
    expect(r.body).not.toContain(v);
    expect(JSON.stringify(r.headers)).not.toContain(v);
  }
  return { status: r.status, body: r.body, sent: h.upstream.received[before] as unknown as Echo | undefined };
}

describe('declared schemes end to end', () => {
  it('a header template: bare token or rendered template in, the rendered real value out', async () => {
    for (const sent of [tokens.tmpl!, `Token ${tokens.tmpl!}`]) {
      const r = await send({ 'x-auth': sent });
      expect(r.status).toBe(200);
      expect(r.sent?.headers['x-auth']).toBe(`Token ${REAL.template}`);
      // The echo's copy of the header comes back as what the sandbox sent.
      expect((JSON.parse(r.body) as Echo).headers['x-auth']).toBe(sent);
    }
    expect(h.rows().at(-1)).toMatchObject({ decision: 'swapped', secrets: ['tmpl@1'] });
  });

  it('a template on Authorization (Bot {{value}})', async () => {
    const r = await send({ authorization: `Bot ${tokens.bot!}` });
    expect(r.sent?.headers.authorization).toBe(`Bot ${REAL.bot}`);
    expect((JSON.parse(r.body) as Echo).headers.authorization).toBe(`Bot ${tokens.bot!}`);
  });

  it('a template refuses the token with other text around it, and nothing is forwarded', async () => {
    const before = h.upstream.received.length;
    const r = await viaProxy(h.proxyUrl('agent'), h.caPem, `${api}/echo`, { headers: { 'x-auth': `Bearer ${tokens.tmpl!}` } });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'GW_TOKEN_PLACEMENT' });
    expect(h.upstream.received.length).toBe(before);
  });

  it('the GitHub preset: Bearer to the API and Basic x-access-token:<value> for git, from any user', async () => {
    const bearer = await send({ authorization: `Bearer ${tokens.git!}` });
    expect(bearer.sent?.headers.authorization).toBe(`Bearer ${REAL.git}`);
    for (const user of ['x-access-token', 'git', 'octocat']) {
      const basic = await send({ authorization: basicAuth(user, tokens.git!) });
      expect(basic.status).toBe(200);
      expect(basic.sent?.headers.authorization).toBe(basicAuth('x-access-token', REAL.git));
      expect((JSON.parse(basic.body) as Echo).headers.authorization).toBe(basicAuth(user, tokens.git!));
    }
    expect(h.rows().at(-1)).toMatchObject({ decision: 'swapped', secrets: ['git@1'] });
  });

  it('several placements: header, query and bearer each carry the same secret', async () => {
    const header = await send({ 'x-goog-api-key': tokens.multi! });
    expect(header.sent?.headers['x-goog-api-key']).toBe(REAL.multi);
    const query = await send({}, `/echo?alt=json&key=${tokens.multi!}`);
    expect(query.sent?.url).toBe(`/echo?alt=json&key=${REAL.multi}`);
    expect(h.rows().at(-1)?.path).toBe('/echo?alt=[redacted]&key=[redacted]');
    const bearer = await send({ authorization: `Bearer ${tokens.multi!}` });
    expect(bearer.sent?.headers.authorization).toBe(`Bearer ${REAL.multi}`);
  });

  it('no real value reached the gateway logs or the network log', () => {
    const everything = h.logs() + JSON.stringify(h.rows());
    for (const v of Object.values(REAL)) expect(everything).not.toContain(v);
  });
});
