// The seed case walked in a real browser (issue 13): sign in, log the Zelenskyy claim of
// ../shared/examples/seed-article.txt, cite the X post (served by the loopback fixture
// syndication service the capture tests use), watch the capture finish live, read
// "31 s ✓", open the custody timeline and its verification badge, request a BagIt export,
// watch its progress, download it and run `verify-export` on it. Every page is screenshotted
// into test-artifacts/web/. No request may leave loopback and no CSP violation may occur.
import { readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { serveFile, serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { runVerifyCli } from '../helpers/verify-cli.ts';
import {
  browserUnavailable,
  chromiumPath,
  openBrowser,
  serveOnLoopback,
  type WebBrowser,
} from '../helpers/web-browser.ts';

const media = (name: string) => new URL(`../fixtures/media/${name}`, import.meta.url).pathname;
const server = await useFixtureServer();
const postJson = readFileSync(media('syndication-post.json'), 'utf8').replaceAll('FIXTURE_HOST', server.host);
server.routes.set('/syndication/tweet-result', serveText(postJson, 'application/json'));
server.routes.set('/media/zelenskyy-31s.mp4', serveFile(media('zelenskyy-31s.mp4'), 'video/mp4'));
// A news article whose og:video is the same file: identical content across sources.
server.routes.set('/article', serveFile(media('page.html'), 'text/html; charset=utf-8'));

const env = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  X_SYNDICATION_URL: `${server.origin}/syndication`,
});
const origin = await serveOnLoopback(env.app);

const statement =
  'Russian troops are burning the faces of dead North Korean soldiers to conceal their identities and their presence on the battlefield.';

describe.skipIf(!chromiumPath && browserUnavailable)('the seed case in the browser', () => {
  let b: WebBrowser;
  beforeAll(async () => {
    b = await openBrowser(origin);
  });
  afterAll(() => b?.close());

  it('is walked from sign-in to a verified export', { timeout: 180_000 }, async () => {
    const { page } = b;
    // Signed out, / leads to the sign-in form.
    await page.goto(`${origin}/`);
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await b.shot('01-sign-in');
    await b.signIn(env.editor.token);
    await page.getByRole('heading', { name: 'Investigations' }).waitFor();
    await b.shot('02-investigations');

    // Investigations → the investigation → log the claim.
    await page.getByRole('link', { name: 'Capture tests' }).click();
    await page.getByLabel('Statement').fill(statement);
    await page.getByLabel('Claimant', { exact: true }).fill('Volodymyr Zelenskyy');
    await page.getByLabel("Claimant's role (optional)").fill('President of Ukraine');
    await page.getByLabel('Claimed on (optional)').fill('2024-12-17');
    await page.getByLabel('Language (optional, e.g. uk, en-GB)').fill('en');
    await page.getByLabel('Tags (optional, comma separated)').fill('north-korea, russia-ukraine-war');
    await b.shot('03-investigation');
    await page.getByRole('button', { name: 'Log claim' }).click();
    await page.waitForURL(/\/claims\/[0-9a-f-]{36}$/);
    const claimUrl = page.url();
    expect(await page.locator('h1').textContent()).toBe(statement);
    expect(await page.locator('.facts').textContent()).toContain('2024-12-17');

    // Cite the X post with its declared 31-second video.
    await page.getByLabel('URL').fill('https://twitter.com/ZelenskyyUa/status/1869038340384076117?s=20');
    await page.getByLabel('Relation to the claim').selectOption('origin');
    await page.getByLabel('Expected duration in seconds (optional)').fill('31');
    await page.getByLabel('Expected media type (optional)').selectOption('video');
    await page.getByRole('button', { name: 'Cite source' }).click();
    await page.waitForURL(/#sources$/);
    const card = page.locator('article.source').first();
    expect(await card.locator('h4').textContent()).toBe(
      'https://x.com/zelenskyyua/status/1869038340384076117',
    );
    expect(await card.locator('.platform').textContent()).toMatch(
      /X post by @zelenskyyua · post id 1869038340384076117/,
    );
    const loadedAt = await page.evaluate('performance.timeOrigin');
    await b.shot('04-claim-capturing');

    // The capture finishes while we watch: htmx swaps the card in place, no reload.
    await card
      .locator('.checks')
      .getByText('duration: declared 31 s · observed 31.0 s ✓')
      .waitFor({ timeout: 60_000 });
    // Checks are recorded just before the capture completes: the card polls until it has.
    await page.locator('article.source[hx-trigger]').waitFor({ state: 'detached', timeout: 30_000 });
    expect(await page.evaluate('performance.timeOrigin')).toBe(loadedAt);
    const captured = page.locator('article.source').first();
    expect(await captured.locator('.state').textContent()).toBe('captured');
    expect(await captured.locator('.capture').textContent()).toMatch(
      /latest cited capture completed \d{4}-\d\d-\d\d/,
    );
    expect(await captured.locator('.checks').textContent()).toContain(
      'media type: declared video · observed video ✓',
    );
    const hashes = await captured.locator('.hash code').allTextContents();
    expect(hashes).toHaveLength(2);
    for (const h of hashes) expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(await captured.locator('video').count()).toBe(1);
    await b.shot('05-claim-captured');

    // A news article embedding the same video, cited as supporting: the page points it out.
    await page.getByLabel('URL').fill(`${server.origin}/article`);
    await page.getByLabel('Relation to the claim').selectOption('supporting');
    await page.getByRole('button', { name: 'Cite source' }).click();
    await page.waitForURL(/#sources$/);
    const article = page.locator('article.source').nth(1);
    await article.locator('.same').first().waitFor({ timeout: 60_000 });
    expect(await article.locator('.same').first().textContent()).toContain(
      'Identical content (same sha256) is also preserved from https://x.com/zelenskyyua/status/1869038340384076117',
    );
    await page.reload();
    expect(await page.locator('article.source').first().locator('.same').textContent()).toContain(
      `is also preserved from ${server.origin}/article`,
    );
    await b.shot('05b-claim-identical-content');

    // The custody timeline, in words, and the badge computed live.
    await captured.getByRole('link', { name: 'custody timeline and verification' }).click();
    await page.waitForURL(/\/sources\/[0-9a-f-]{36}$/);
    const badge = page.locator('#badge');
    await badge
      .getByText(/every event \(\d+\) included in signed checkpoint of size \d+/)
      .waitFor({ timeout: 30_000 });
    expect(await badge.textContent()).toContain('✓ Verified');
    const events = page.locator('ol.timeline li');
    expect(await events.count()).toBeGreaterThanOrEqual(13);
    const first = await events.first().textContent();
    expect(first).toContain('#1');
    expect(first).toContain('cited as origin by a claim');
    expect(first).toContain('Capture editor'); // the actor by name, not user:<uuid>
    expect(first).toMatch(/hash [0-9a-f]{12}… · log index \d+/);
    expect(await page.locator('ol.timeline').textContent()).toMatch(/capture started by worker/);
    expect(await page.locator('ol.timeline').textContent()).toContain(
      'check duration: declared 31 s · observed 31.0 s ✓',
    );
    await b.shot('06-source-custody');

    // The video's evidence page.
    await page.locator('article.source .items a', { hasText: 'video' }).first().click();
    await page.waitForURL(/\/evidence\/[0-9a-f-]{36}$/);
    expect(await page.locator('table.facts-table').first().textContent()).toContain('video/mp4');
    await page.locator('video.preview').waitFor();
    await b.shot('07-evidence-video');

    // A BagIt export of the claim, its progress live, the download, and the offline check.
    await page.goto(claimUrl);
    await page.getByLabel('Format').selectOption('bagit');
    await page.getByRole('button', { name: 'Request export' }).click();
    await page.waitForURL(/\/exports\/[0-9a-f-]{36}$/);
    await b.shot('08-export-requested');
    const download = page.locator('#download');
    await download.waitFor({ timeout: 60_000 });
    expect(await page.locator('.export-status').textContent()).toBe('completed');
    expect(await page.locator('progress').getAttribute('value')).toBe('1');
    await b.shot('09-export-completed');
    const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
    const path = join(tmpdir(), `web-walk-${Date.now()}-${file.suggestedFilename()}`);
    await file.saveAs(path);
    expect(statSync(path).size).toBeGreaterThan(1000);
    const command = (await page.locator('#verify-command').textContent()) ?? '';
    const key = /--key '([^']+)'/.exec(command)?.[1];
    expect(key).toBe((await request(env.app).get('/v1/log/key')).text.trim());
    expect(command).toBe(`npx claimtrail verify-export ${file.suggestedFilename()} --key '${key}'`);
    const verified = await runVerifyCli([path, '--key', key!]);
    expect(verified.stderr).toBe('');
    expect(verified.code, verified.stdout).toBe(0);

    await page.goto(`${origin}/exports`);
    expect(await page.locator('main').textContent()).toContain('bagit export of a claim');
    await b.shot('10-exports');

    expect(await b.cspViolations()).toEqual([]);
    expect(b.pageErrors).toEqual([]);
    expect(b.outside).toEqual([]);

    // Readable at 360 px: nothing wider than the screen.
    await page.setViewportSize({ width: 360, height: 740 });
    for (const path of [claimUrl, new URL(page.url()).pathname]) {
      await page.goto(new URL(path, origin).toString());
      const overflow = (await page.evaluate('document.documentElement.scrollWidth')) as number;
      expect(overflow, path).toBeLessThanOrEqual(360);
    }
    await page.goto(claimUrl);
    await b.shot('11-claim-360px');

    // Keyboard: the first Tab reaches "Skip to content", which moves focus to the page's content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('main');
  });

  it('reads without JavaScript', { timeout: 60_000 }, async () => {
    const noJs = await openBrowser(origin, { javaScriptEnabled: false });
    try {
      await noJs.signIn(env.viewer.token);
      await noJs.page.getByRole('link', { name: 'Capture tests' }).click();
      await noJs.page.getByRole('link', { name: statement }).click();
      expect(await noJs.page.locator('.checks').first().textContent()).toContain(
        'duration: declared 31 s · observed 31.0 s ✓',
      );
      await noJs.page.getByRole('link', { name: 'custody timeline and verification' }).first().click();
      expect(await noJs.page.locator('#badge').textContent()).toContain('✓ Verified');
      await noJs.shot('12-source-without-javascript');
    } finally {
      await noJs.close();
    }
  });
});
