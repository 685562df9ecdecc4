// The web app in headless Chromium: the API's Express app listening on loopback, a browser
// whose every request off our origin (and the fixture servers a test names) is refused and
// recorded, CSP violations and page errors collected, and screenshots written to
// test-artifacts/web/ (git-ignored) for a person to look at.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll } from 'vitest';
import { findChromium, launchChromium, whyBrowserCannotBeInstalled } from './browser.ts';

export const chromiumPath = findChromium();
export const browserUnavailable = chromiumPath ? null : whyBrowserCannotBeInstalled();
if (!chromiumPath && browserUnavailable) {
  console.warn(
    `\n!!! SKIPPED: the web app browser tests need Chromium at /usr/lib/chromium/chromium (${browserUnavailable}). Install it: apt-get install -y chromium\n`,
  );
}

export const artifactsDir = fileURLToPath(new URL('../../test-artifacts/web/', import.meta.url));

export async function serveOnLoopback(app: Express) {
  const server = await new Promise<ReturnType<Express['listen']>>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface WebBrowser {
  context: BrowserContext;
  page: Page;
  /** Requests that tried to leave the allowed origins (refused). */
  outside: string[];
  pageErrors: string[];
  cspViolations(): Promise<string[]>;
  shot(name: string): Promise<void>;
  signIn(token: string): Promise<void>;
  close(): Promise<void>;
}

export async function openBrowser(
  origin: string,
  opts: { allow?: string[]; javaScriptEnabled?: boolean; viewport?: { width: number; height: number } } = {},
): Promise<WebBrowser> {
  if (!chromiumPath) throw new Error('no Chromium');
  mkdirSync(artifactsDir, { recursive: true });
  const { context, close } = await launchChromium(chromiumPath, {
    javaScriptEnabled: opts.javaScriptEnabled ?? true,
    viewport: opts.viewport ?? { width: 1100, height: 900 },
    acceptDownloads: true,
  });
  const allowed = [origin, ...(opts.allow ?? [])];
  const outside: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (allowed.some((o) => url === o || url.startsWith(`${o}/`))) return route.continue();
    outside.push(url);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await context.addInitScript({
    content: `window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) =>
        window.__cspViolations.push(e.violatedDirective + ' blocked ' + e.blockedURI));`,
  });
  return {
    context,
    page,
    outside,
    pageErrors,
    cspViolations: async () => (await page.evaluate('window.__cspViolations ?? []')) as string[],
    shot: async (name) => {
      await page.screenshot({ path: `${artifactsDir}${name}.png`, fullPage: true });
    },
    signIn: async (token) => {
      await page.goto(`${origin}/sign-in`);
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((u) => !u.pathname.startsWith('/sign-in'));
    },
    close,
  };
}
