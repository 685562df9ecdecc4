// The web app's sign-in, session cookie, CSRF tokens and authorization, over real HTTP
// (supertest) against the real database: the browser-free half of issue 13's security cases.
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createUser, revokeTokens } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';
import { cookiesOf, csrfOf, webSignIn } from '../helpers/web-client.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const mk = (role: 'admin' | 'editor' | 'auditor' | 'viewer') =>
  createUser(ctx, { name: `Web ${role} ${randomUUID().slice(0, 6)}`, role }, 'system:test');
const owner = new pg.Pool({ connectionString: process.env.MIGRATION_DATABASE_URL, max: 1 });
afterAll(() => owner.end());

const editor = await mk('editor');
const viewer = await mk('viewer');
const outsider = await mk('editor');
const as = (t: string) => ({ Authorization: `Bearer ${t}` });
const inv = (await request(app).post('/v1/investigations').set(as(editor.token)).send({ title: 'Web desk' }))
  .body;
await request(app)
  .post(`/v1/investigations/${inv.id}/members`)
  .set(as(editor.token))
  .send({ userId: viewer.id });
const claim = (
  await request(app)
    .post(`/v1/investigations/${inv.id}/claims`)
    .set(as(editor.token))
    .send({ statement: 'A claim on the web desk', claimant: { name: 'Someone' } })
).body;
const source = (
  await request(app)
    .post(`/v1/claims/${claim.id}/sources`)
    .set(as(editor.token))
    .send({ url: 'https://example.com/web-desk', relation: 'origin' })
).body.source;
const upload = (
  await request(app)
    .post(`/v1/sources/${source.id}/evidence`)
    .set(as(editor.token))
    .attach('file', Buffer.from('<p>notes</p>'), 'notes.html')
).body;

describe('signing in', () => {
  it('sends a signed-out visitor from / to the sign-in form, under a CSP without inline script', async () => {
    const home = await request(app).get('/');
    expect(home.status).toBe(303);
    expect(home.headers.location).toBe('/sign-in');
    const form = await request(app).get('/sign-in');
    expect(form.status).toBe(200);
    expect(form.headers['content-type']).toMatch(/^text\/html/);
    const csp = form.headers['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(form.text).toContain('<script src="/assets/htmx.min.js"');
    expect(form.text).not.toMatch(/<script>|<style|style="|\son[a-z]+=/i);
    const htmx = await request(app).get('/assets/htmx.min.js');
    expect(htmx.status).toBe(200);
    expect(htmx.headers['content-type']).toMatch(/javascript/);
  });

  it('refuses a sign-in without the form nonce (403) and a wrong token (401), creating no session', async () => {
    const before = await owner.query('SELECT count(*)::int AS n FROM web_sessions');
    const noNonce = await request(app).post('/sign-in').type('form').send({ token: editor.token });
    expect(noNonce.status).toBe(403);
    expect(cookiesOf(noNonce).has('claimtrail_session')).toBe(false);
    const form = await request(app).get('/sign-in');
    const nonce = cookiesOf(form).get('claimtrail_signin')!.split(';')[0]!;
    const wrong = await request(app)
      .post('/sign-in')
      .set('Cookie', nonce)
      .type('form')
      .send({ _csrf: csrfOf(form.text), token: `ct_${'A'.repeat(43)}` });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('unknown or revoked');
    const after = await owner.query('SELECT count(*)::int AS n FROM web_sessions');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('sets an HttpOnly, SameSite=Strict cookie with an expiry, and stores only a hash of it', async () => {
    const web = await webSignIn(app, editor.token);
    expect(web.setCookie).toMatch(/; HttpOnly/);
    expect(web.setCookie).toMatch(/; SameSite=Strict/);
    expect(web.setCookie).toMatch(/; Path=\//);
    expect(web.setCookie).toMatch(/; Expires=/);
    expect(web.setCookie).not.toMatch(/; Secure/); // plain http on loopback
    const id = web.cookie.split('=')[1]!;
    const rows = await owner.query('SELECT id_hash, expires_at FROM web_sessions WHERE id_hash = $1', [
      createHash('sha256').update(id).digest(),
    ]);
    expect(rows.rowCount).toBe(1);
    const stored = await owner.query(
      "SELECT count(*)::int AS n FROM web_sessions WHERE encode(id_hash, 'escape') LIKE $1",
      [`%${id}%`],
    );
    expect(stored.rows[0].n).toBe(0);
    const ttl = (rows.rows[0].expires_at.getTime() - Date.now()) / 1000;
    expect(ttl).toBeGreaterThan(ctx.config.SESSION_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(ctx.config.SESSION_TTL_SECONDS);
    const home = await web.get('/');
    expect(home.status).toBe(200);
    expect(home.text).toContain('Web desk');
  });

  it('marks the cookie Secure (and __Host-) behind an https proxy it trusts', async () => {
    const https = createApp(useTestContext({ WEB_TRUST_PROXY: '1' })).app;
    const form = await request(https).get('/sign-in').set('X-Forwarded-Proto', 'https');
    const nonce = cookiesOf(form).get('claimtrail_signin')!;
    expect(nonce).toMatch(/; Secure/);
    const res = await request(https)
      .post('/sign-in')
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', nonce.split(';')[0]!)
      .type('form')
      .send({ _csrf: csrfOf(form.text), token: editor.token });
    expect(res.status).toBe(303);
    const session = cookiesOf(res).get('__Host-claimtrail_session');
    expect(session).toMatch(/; Secure/);
    expect(session).toMatch(/; HttpOnly/);
    // Without the proxy's word, the same app sees plain http.
    const plain = await request(https).get('/sign-in');
    expect(cookiesOf(plain).get('claimtrail_signin')).not.toMatch(/; Secure/);
  });

  it('signing out deletes the session: the old cookie no longer works', async () => {
    const web = await webSignIn(app, editor.token);
    const out = await web.post('/sign-out');
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/sign-in');
    const id = web.cookie.split('=')[1]!;
    const rows = await owner.query('SELECT 1 FROM web_sessions WHERE id_hash = $1', [
      createHash('sha256').update(id).digest(),
    ]);
    expect(rows.rowCount).toBe(0);
    const again = await web.get('/');
    expect(again.status).toBe(303);
    expect(again.headers.location).toBe('/sign-in');
    // A live fragment polling on: htmx is told to take the page to the sign-in form.
    const fragment = await web.get(`/sources/${source.id}/card`).set('HX-Request', 'true');
    expect(fragment.status).toBe(401);
    expect(fragment.headers['hx-redirect']).toBe('/sign-in');
  });

  it('signing in again on the same browser ends the previous session', async () => {
    const first = await webSignIn(app, editor.token);
    const form = await first.get('/sign-in?next=/');
    expect(form.status).toBe(303); // already signed in
    const fresh = await request(app).get('/sign-in');
    const nonce = cookiesOf(fresh).get('claimtrail_signin')!.split(';')[0]!;
    const again = await request(app)
      .post('/sign-in')
      .set('Cookie', `${nonce}; ${first.cookie}`)
      .type('form')
      .send({ _csrf: csrfOf(fresh.text), token: viewer.token });
    expect(again.status).toBe(303);
    expect(cookiesOf(again).get('claimtrail_session')).not.toContain(first.cookie.split('=')[1]!);
    expect((await first.get('/')).status).toBe(303);
  });

  it('an expired session and a session whose token was revoked are signed out', async () => {
    const web = await webSignIn(app, editor.token);
    const id = web.cookie.split('=')[1]!;
    await owner.query("UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE id_hash = $1", [
      createHash('sha256').update(id).digest(),
    ]);
    expect((await web.get('/')).status).toBe(303);

    const temp = await mk('viewer');
    const tempWeb = await webSignIn(app, temp.token);
    expect((await tempWeb.get('/')).status).toBe(200);
    await revokeTokens(ctx, temp.id, 'system:test');
    expect((await tempWeb.get('/')).status).toBe(303);
  });

  it('leaves the API and unknown paths to the API (problem+json, bearer auth)', async () => {
    const web = await webSignIn(app, editor.token);
    const api = await web.get(`/v1/claims/${claim.id}`);
    expect(api.status).toBe(401); // a session cookie is no API credential
    const unknown = await web.get('/no-such-page');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});

describe('CSRF', () => {
  it('refuses a form without the token, or with another session’s, and writes nothing', async () => {
    const web = await webSignIn(app, editor.token);
    const other = await webSignIn(app, editor.token);
    const count = () => ctx.prisma.claim.count({ where: { investigationId: inv.id } });
    const before = await count();
    const fields = { statement: 'Forged', claimantName: 'Mallory' };
    const none = await request(app)
      .post(`/investigations/${inv.id}/claims`)
      .set('Cookie', web.cookie)
      .type('form')
      .send(fields);
    expect(none.status).toBe(403);
    expect(none.text).toContain('security token');
    const foreign = await web.post(`/investigations/${inv.id}/claims`, { ...fields, _csrf: other.csrf });
    expect(foreign.status).toBe(403);
    expect(await count()).toBe(before);
    const ok = await web.post(`/investigations/${inv.id}/claims`, fields);
    expect(ok.status).toBe(303);
    expect(await count()).toBe(before + 1);
  });

  it('an upload (multipart, the token in the query as `auth`) needs the token too', async () => {
    const web = await webSignIn(app, editor.token);
    const items = () => ctx.prisma.evidenceItem.count({ where: { sourceId: source.id } });
    const before = await items();
    const bare = await request(app)
      .post(`/sources/${source.id}/evidence`)
      .set('Cookie', web.cookie)
      .attach('file', Buffer.from('my own copy'), 'copy.txt');
    expect(bare.status).toBe(403);
    expect(await items()).toBe(before);
    const ok = await request(app)
      .post(`/sources/${source.id}/evidence?auth=${encodeURIComponent(web.csrf)}`)
      .set('Cookie', web.cookie)
      .attach('file', Buffer.from('my own copy'), 'copy.txt');
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toMatch(/^\/evidence\/[0-9a-f-]{36}$/);
    expect(await items()).toBe(before + 1);
  });

  it('puts the token on every form of every page', async () => {
    const web = await webSignIn(app, editor.token);
    for (const path of ['/', `/investigations/${inv.id}`, `/claims/${claim.id}`, `/sources/${source.id}`]) {
      const page = await web.get(path);
      expect(page.status, path).toBe(200);
      const posts = page.text.match(/<form[^>]*method="post"[^>]*>[\s\S]*?<\/form>/g) ?? [];
      expect(posts.length, path).toBeGreaterThan(0);
      for (const f of posts)
        expect(
          f.includes(`value="${web.csrf}"`) || f.includes(`auth=${encodeURIComponent(web.csrf)}`),
          `${path}: ${f.slice(0, 120)}`,
        ).toBe(true);
    }
  });
});

describe('one authorization path: 404 for outsiders, 403 for roles', () => {
  it('a viewer sees no write controls, and a direct POST is 403 with nothing changed', async () => {
    const web = await webSignIn(app, viewer.token);
    const page = await web.get(`/claims/${claim.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('A claim on the web desk');
    for (const action of ['/status"', '/sources"', 'action="/exports"'])
      expect(page.text).not.toContain(action);
    expect((await web.get(`/investigations/${inv.id}`)).text).not.toContain(
      `/investigations/${inv.id}/claims"`,
    );
    expect((await web.get(`/sources/${source.id}`)).text).not.toContain('/captures"');
    const status = await web.post(`/claims/${claim.id}/status`, { status: 'false' });
    expect(status.status).toBe(403);
    expect(status.headers['content-type']).toMatch(/^text\/html/);
    const cite = await web.post(`/claims/${claim.id}/sources`, {
      url: 'https://example.com/x',
      relation: 'origin',
    });
    expect(cite.status).toBe(403);
    expect((await web.post(`/sources/${source.id}/captures`)).status).toBe(403);
    expect((await web.post('/exports', { claimId: claim.id, format: 'csv' })).status).toBe(403);
    expect((await ctx.prisma.claim.findUniqueOrThrow({ where: { id: claim.id } })).status).toBe('unverified');
  });

  it('an outsider gets 404 pages, exactly as for what does not exist', async () => {
    const web = await webSignIn(app, outsider.token);
    for (const path of [
      `/investigations/${inv.id}`,
      `/claims/${claim.id}`,
      `/sources/${source.id}`,
      `/sources/${source.id}/card`,
      `/evidence/${upload.id}`,
      `/evidence/${upload.id}/content`,
      `/investigations/${randomUUID()}`,
      '/claims/not-an-id',
    ]) {
      const res = await web.get(path);
      expect(res.status, path).toBe(404);
      expect(res.text, path).not.toContain('web desk');
    }
    expect((await web.post(`/claims/${claim.id}/status`, { status: 'false' })).status).toBe(404);
    expect((await web.get('/')).text).not.toContain('Web desk');
  });

  it('filters an investigation’s claims by status and tag, and searches them, with the list service', async () => {
    const web = await webSignIn(app, viewer.token);
    await request(app)
      .post(`/v1/investigations/${inv.id}/claims`)
      .set(as(editor.token))
      .send({
        statement: 'Grain shipments left Odesa',
        claimant: { name: 'A port official' },
        tags: ['grain'],
      });
    const list = async (query: string) => (await web.get(`/investigations/${inv.id}?${query}`)).text;
    expect(await list('q=odesa')).toContain('Grain shipments left Odesa');
    expect(await list('q=odesa')).not.toContain('A claim on the web desk');
    expect(await list('q=%22web+desk%22+-grain')).toContain('A claim on the web desk');
    expect(await list('tag=grain')).toContain('Grain shipments left Odesa');
    expect(await list('tag=grain')).not.toContain('A claim on the web desk');
    expect(await list('status=corroborated')).toContain('No claims match these filters');
    expect(await list('')).toContain(`href="/sources/${source.id}">https://example.com/web-desk</a>`);
    const bad = await web.get(`/investigations/${inv.id}?status=maybe`);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('status');
  });

  it('an editor changes a claim’s status through the same service (a ledger event)', async () => {
    const web = await webSignIn(app, editor.token);
    const res = await web.post(`/claims/${claim.id}/status`, { status: 'under_review' });
    expect(res.status).toBe(303);
    expect((await ctx.prisma.claim.findUniqueOrThrow({ where: { id: claim.id } })).status).toBe(
      'under_review',
    );
    const events = await ctx.prisma.ledgerEvent.findMany({
      where: { subjectType: 'claim', subjectId: claim.id, type: 'claim_updated' },
    });
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.body).actor).toBe(`user:${editor.id}`);
  });

  it('an editor removes a member from the investigation page; the member then gets 404 pages', async () => {
    const temp = await mk('viewer');
    await request(app)
      .post(`/v1/investigations/${inv.id}/members`)
      .set(as(editor.token))
      .send({ userId: temp.id });
    const tempWeb = await webSignIn(app, temp.token);
    expect((await tempWeb.get(`/investigations/${inv.id}`)).status).toBe(200);
    const web = await webSignIn(app, editor.token);
    const page = await web.get(`/investigations/${inv.id}`);
    expect(page.text).toContain(`/investigations/${inv.id}/members/${temp.id}/remove`);
    const res = await web.post(`/investigations/${inv.id}/members/${temp.id}/remove`);
    expect(res.status).toBe(303);
    expect((await tempWeb.get(`/investigations/${inv.id}`)).status).toBe(404);
    const removed = await ctx.prisma.ledgerEvent.findMany({
      where: { subjectType: 'investigation', subjectId: inv.id, type: 'member_removed' },
    });
    expect(removed.map((e) => JSON.parse(e.body).data.userId)).toContain(temp.id);
    // A viewer sees no remove button, and posting the form anyway is refused.
    const viewerWeb = await webSignIn(app, viewer.token);
    expect((await viewerWeb.get(`/investigations/${inv.id}`)).text).not.toContain('/remove"');
    expect((await viewerWeb.post(`/investigations/${inv.id}/members/${editor.id}/remove`)).status).toBe(403);
  });

  it('serves preserved bytes only in a sandbox, each read a ledger event', async () => {
    const web = await webSignIn(app, viewer.token);
    const res = await web.get(`/evidence/${upload.id}/content`);
    expect(res.status).toBe(200);
    expect(res.headers['content-security-policy']).toMatch(/^sandbox;/);
    expect(res.headers['content-security-policy']).not.toMatch(/allow-/);
    expect(res.headers['content-disposition']).toMatch(/^inline/);
    const again = await web.get(`/evidence/${upload.id}/content`).set('If-None-Match', res.headers.etag!);
    expect(again.status).toBe(304);
    const reads = await ctx.prisma.ledgerEvent.findMany({
      where: { subjectType: 'source', subjectId: source.id, type: 'evidence_read' },
    });
    expect(reads.map((e) => JSON.parse(e.body).actor)).toEqual([`user:${viewer.id}`]);
  });
});
