// /docs in a real browser: headless Chromium loads the page from the API on loopback and must
// render its operations with no CSP violation and no request leaving loopback (the assets come
// from the swagger-ui-dist package, served by the API). Before, the global helmet() CSP blocked
// the CDN script and the inline bootstrap, and the page stayed blank.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { findChromium, launchChromium, whyBrowserCannotBeInstalled } from '../helpers/browser.ts';
import { useTestContext } from '../helpers/context.ts';

const chromiumPath = findChromium();
const cannotInstall = chromiumPath ? null : whyBrowserCannotBeInstalled();
if (!chromiumPath && cannotInstall) {
  console.warn(
    `\n!!! SKIPPED: the /docs browser test needs Chromium at /usr/lib/chromium/chromium, which is missing (${cannotInstall}). Install it: apt-get install -y chromium\n`,
  );
}

describe.skipIf(!chromiumPath && cannotInstall)('/docs in headless Chromium', () => {
  const ctx = useTestContext();
  const { app } = createApp(ctx);
  let server: ReturnType<typeof app.listen>;
  let origin = '';

  beforeAll(async () => {
    server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is installed (npm test installs it as root; see scripts/ensure-env.sh)', () => {
    expect(
      chromiumPath,
      'Chromium is missing although it could be installed: apt-get install -y chromium',
    ).not.toBeNull();
  });

  it('renders the operations under its own CSP, with every request on loopback', async () => {
    if (!chromiumPath) return; // reported by the test above
    const browser = await launchChromium(chromiumPath);
    try {
      const { context } = browser;
      const outside: string[] = [];
      const requested: string[] = [];
      // Every request the page makes is seen here; anything not on our origin is refused.
      await context.route('**/*', (route) => {
        const url = route.request().url();
        requested.push(url);
        if (url.startsWith(`${origin}/`)) return route.continue();
        outside.push(url);
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      const consoleCsp: string[] = [];
      const pageErrors: string[] = [];
      page.on('console', (msg) => {
        if (/Content Security Policy/i.test(msg.text())) consoleCsp.push(msg.text());
      });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      // Runs in the page before its own scripts (a string: this project compiles without DOM types).
      await page.addInitScript({
        content: `window.__cspViolations = [];
          document.addEventListener('securitypolicyviolation', (e) =>
            window.__cspViolations.push(e.violatedDirective + ' blocked ' + e.blockedURI));`,
      });

      const response = await page.goto(`${origin}/docs`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      const csp = response?.headers()['content-security-policy'] ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https:/);

      const claimPath = page.locator('[data-path="/v1/claims/{id}"]').first();
      await claimPath.waitFor({ state: 'visible', timeout: 20_000 });
      await page
        .getByText('A claim with its citations and their sources')
        .first()
        .waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.locator('.opblock').count()).toBeGreaterThan(20);

      const violations = await page.evaluate('window.__cspViolations');
      expect(violations).toEqual([]);
      expect(consoleCsp).toEqual([]);
      expect(pageErrors).toEqual([]);
      expect(outside).toEqual([]);
      expect(requested).toEqual(
        expect.arrayContaining([
          `${origin}/docs`,
          `${origin}/docs/assets/swagger-ui-bundle.js`,
          `${origin}/openapi.json`,
        ]),
      );
    } finally {
      await browser.close();
    }
  });
});
