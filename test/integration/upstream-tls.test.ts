import { afterEach, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/secret-value.js';
import { viaProxy } from '../helpers/client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const REAL = 'real-value-for-tls-checks-000111222';
let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(options: Parameters<typeof startHarness>[0]): Promise<{ h: Harness; token: string }> {
  h = await startHarness(options);
  const port = h.upstream.port;
  h.store.createSecret({ name: 's', scheme: { kind: 'bearer' }, hosts: [`api.standin.test:${port}`, `wrong-name.example:${port}`], value: new SecretValue(REAL), actor: 't' });
  const token = h.store.createSandbox({ name: 'sb', allowHosts: [], bindings: [{ env: 'T', secretName: 's' }], actor: 't' }).bindings[0]!.token;
  return { h, token };
}

describe('upstream TLS is verified against the CONNECT target', () => {
  it('an upstream whose CA is not trusted: 502 GW_UPSTREAM_TLS, the credential never sent', async () => {
    const { h, token } = await setup({ trustTestCa: false });
    const r = await viaProxy(h.proxyUrl('sb'), h.caPem, `https://api.standin.test:${h.upstream.port}/echo`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'GW_UPSTREAM_TLS' });
    expect(h.upstream.received.length).toBe(0);
    expect(h.rows().at(-1)).toMatchObject({ decision: 'error', errorCode: 'GW_UPSTREAM_TLS' });
  });

  it('an upstream whose certificate does not name the target: 502, nothing sent', async () => {
    const { h, token } = await setup({ resolve: { 'wrong-name.example': '127.0.0.1' } });
    const r = await viaProxy(h.proxyUrl('sb'), h.caPem, `https://wrong-name.example:${h.upstream.port}/echo`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'GW_UPSTREAM_TLS' });
    expect(h.upstream.received.length).toBe(0);
    expect(r.body + h.logs()).not.toContain(REAL);
  });

  it('the trusted upstream under its own name works over the same agent', async () => {
    const { h, token } = await setup({});
    const r = await viaProxy(h.proxyUrl('sb'), h.caPem, `https://api.standin.test:${h.upstream.port}/echo`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(h.upstream.received[0]?.headers.authorization).toBe(`Bearer ${REAL}`);
  });
});
