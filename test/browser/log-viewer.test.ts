import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, removeHome, ROOT, runClient, startServe, type ServeProcess } from '../helpers/serve.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * The log viewer in a real headless Chromium (Debian's, never a downloaded one): served by the
 * control listener with an auditor key, and by `standin log ui` with its one-time URL. Rows appear
 * live, filters work, a row expands to its explanation, and markup a sandbox put in a request path
 * shows as text and never runs. Without Chromium this test fails: .ci/run installs it.
 */

const CHROMIUM = '/usr/bin/chromium';

// The page's globals as the checks below use them: this file compiles without the DOM lib, and the
// checks are functions (the page's CSP refuses to evaluate strings, as it should).
interface Nodes {
  length: number;
  [i: number]: { textContent: string | null } | undefined;
}
interface PageGlobals {
  document: { querySelectorAll(selector: string): Nodes; getElementById(id: string): { textContent: string | null } | null };
  __xss?: number;
}

const REAL = 'sk-REAL-viewer-value-5e2b9c1d7a';
const XSS = '/v1/<img/src=x/onerror=window.__xss=1>/<script>window.__xss=2</script>';
let upstream: Upstream;
let gw: ServeProcess;
let browser: Browser;
let control: string;
let auditorKey: string;
let env: Record<string, string>;
const pageErrors: string[] = [];

const request = async (url: string): Promise<void> => {
  const r = await runClient('curl', ['-sS', '-o', '/dev/null', '-H', `Authorization: Bearer ${env.OPENAI_API_KEY ?? ''}`, '--path-as-is', url], { ...process.env, ...env });
  if (r.code !== 0) throw new Error(`curl ${url}: ${r.err}`);
};

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => {
    pageErrors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return page;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  upstream = await startUpstream();
  gw = await startServe(upstream.port, ['api.standin.test', 'other.standin.test'], ['--control', '127.0.0.1:0']);
  const state = JSON.parse(readFileSync(join(gw.home, 'serve.json'), 'utf8')) as { control: string };
  control = state.control;
  const p = upstream.port;
  expect(gw.cli(['secret', 'create', 'openai', '--hosts', `api.standin.test:${p}`, '--value-stdin'], `${REAL}\n`).code).toBe(0);
  expect(gw.cli(['sandbox', 'create', 'agent', '--bind', 'OPENAI_API_KEY=openai', '--allow-host', `api.standin.test:${p}`, '--allow-host', `other.standin.test:${p}`]).code).toBe(0);
  const key = gw.cli(['apikey', 'create', 'auditor-1', '--role', 'auditor']);
  auditorKey = key.stdout.trim();
  env = gw.sandboxEnv('agent');
  await request(`https://api.standin.test:${p}/v1/models`);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await upstream?.close();
  if (gw) removeHome(gw.home);
});

describe('log viewer (control listener, auditor key)', () => {
  it('shows rows live, filters them, expands one, and renders request text as text', async () => {
    const page = await newPage();
    const response = await page.goto(`http://${control}/ui/log#key=${auditorKey}`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    // The key left the address bar at once.
    expect(page.url()).not.toContain(auditorKey);
    await page.locator('tr.row').first().waitFor();
    expect(await page.locator('tr.row').count()).toBe(1);

    // Live: rows made after the page loaded appear without a reload.
    const p = upstream.port;
    await request(`https://api.standin.test:${p}${XSS}`);
    await request(`https://other.standin.test:${p}/v1/steal`);
    await page.locator('tr.row', { hasText: 'token_misuse' }).waitFor({ timeout: 10_000 });
    await page.locator('td.path', { hasText: '<img/src=x' }).waitFor();
    const pathCell = await page.locator('td.path', { hasText: '<img/src=x' }).textContent();
    expect(pathCell).toBe(XSS);
    expect(await page.locator('#log img, #log script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__xss)).toBeUndefined();

    // Stats on top.
    await page.waitForFunction(() => Number((globalThis as unknown as PageGlobals).document.getElementById('s-requests')?.textContent) >= 3);
    expect(await page.locator('#s-refused').textContent()).toBe('1');
    expect(await page.locator('#s-swaps').textContent()).toContain('openai@1 · 2');

    // Filters.
    await page.selectOption('select[name=decision]', 'token_misuse');
    await page.waitForFunction(() => {
      const r = (globalThis as unknown as PageGlobals).document.querySelectorAll('tr.row');
      return r.length === 1 && r[0]?.textContent?.includes('token_misuse') === true;
    });
    await page.selectOption('select[name=decision]', '');
    await page.fill('input[name=host]', '*.standin.test');
    await page.fill('input[name=secret]', 'openai@1');
    await page.click('button[type=submit] >> text=Apply');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelectorAll('tr.row').length === 3);

    // Expand the refusal: its explanation and full row, as text.
    await page.fill('input[name=secret]', '');
    await page.fill('input[name=host]', '');
    await page.click('button[type=submit] >> text=Apply');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelectorAll('tr.row').length === 3);
    await page.locator('tr.row', { hasText: 'token_misuse' }).click();
    const detail = page.locator('tr.detail');
    await detail.locator('p.summary').first().waitFor();
    expect(await detail.textContent()).toContain('Refused by the scope rule');
    expect(await detail.textContent()).toContain('To make it work:');
    await page.locator('tr.row', { hasText: '<img/src=x' }).click();
    await page.locator('tr.detail', { hasText: 'Swapped: openai@1' }).waitFor();
    expect(await page.locator('tr.detail', { hasText: 'Swapped: openai@1' }).textContent()).toContain(XSS);
    expect(await page.locator('#log img, #log script').count()).toBe(0);
    // Clicking again folds it away.
    await page.locator('tr.row', { hasText: '<img/src=x' }).click();
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelectorAll('tr.detail').length === 1);

    if (process.env.STANDIN_SCREENSHOT === '1') {
      mkdirSync(join(ROOT, 'docs'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'docs', 'log-viewer.png'), fullPage: true });
    }
    expect(await page.content()).not.toContain(REAL);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it('without a key shows the key form, and its data routes refuse', async () => {
    const page = await newPage();
    await page.goto(`http://${control}/ui/log`);
    await page.locator('form#key:not([hidden])').waitFor();
    expect(await page.locator('#status').textContent()).toContain('API key');
    const r = await fetch(`http://${control}/v1/log/stats`);
    expect(r.status).toBe(401);
    await page.fill('input[name=key]', auditorKey);
    await page.click('form#key button');
    await page.locator('tr.row').first().waitFor();
    await page.close();
  }, 30_000);
});

describe('standin log ui', () => {
  let child: ChildProcess;
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  it('prints a one-time URL on 127.0.0.1 that opens the viewer once', async () => {
    child = spawn(process.execPath, [CLI, 'log', 'ui'], { env: { ...process.env, STANDIN_HOME: gw.home }, stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no URL: ${out}`)), 15_000);
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    const base = new URL(url).origin;
    expect((await fetch(`${base}/ui/log`)).status).toBe(401); // no session yet
    const page = await newPage();
    await page.goto(url);
    expect(page.url()).toBe(`${base}/ui/log`);
    await page.locator('tr.row', { hasText: 'token_misuse' }).waitFor();
    await page.locator('tr.row', { hasText: '<img/src=x' }).waitFor();
    expect(await page.locator('#log img, #log script').count()).toBe(0);
    // Live here too.
    await request(`https://api.standin.test:${upstream.port}/v1/after-open`);
    await page.locator('td.path', { hasText: '/v1/after-open' }).waitFor({ timeout: 10_000 });
    // The link is spent; another browser (no cookie) gets nothing.
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(403);
    expect((await fetch(`${base}/v1/log`)).status).toBe(401);
    // A page of another name resolving to 127.0.0.1 (DNS rebinding) is refused by its Host.
    const rebinding = await new Promise<number>((resolve, reject) => {
      get(`${base}/v1/log`, { headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(rebinding).toBe(421);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);
});
