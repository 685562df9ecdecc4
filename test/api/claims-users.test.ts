// Users and tokens over HTTP, claim edits recorded with before/after, and claim listing
// with filters, full-text search and cursor pagination.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const admin = await createUser(ctx, { name: 'Admin', role: 'admin' }, 'system:test');
const editor = await createUser(ctx, { name: 'Editor', role: 'editor' }, 'system:test');
const outsider = await createUser(ctx, { name: 'Outsider', role: 'editor' }, 'system:test');
const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });

const inv = (await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Listing' })).body;
const newClaim = async (statement: string, extra: object = {}) =>
  (
    await request(app)
      .post(`/v1/investigations/${inv.id}/claims`)
      .set(as(editor))
      .send({ statement, claimant: { name: 'Volodymyr Zelenskyy', role: 'President' }, ...extra })
  ).body;

describe('users and tokens', () => {
  it('admins create users (token shown once, works at once) and revoke their tokens', async () => {
    const created = await request(app)
      .post('/v1/users')
      .set(as(admin))
      .send({ name: 'Reporter', role: 'viewer' });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^ct_[A-Za-z0-9_-]{43}$/);
    expect((await request(app).get('/v1/investigations').set(as(created.body))).status).toBe(200);
    const stored = await ctx.pool.query('SELECT token_hash FROM api_tokens WHERE user_id = $1', [
      created.body.id,
    ]);
    expect(stored.rows[0].token_hash.toString('hex')).not.toContain(
      Buffer.from(created.body.token).toString('hex'),
    );

    expect(
      (await request(app).post('/v1/users').set(as(editor)).send({ name: 'X', role: 'admin' })).status,
    ).toBe(403);
    expect(
      (await request(app).post('/v1/users').set(as(admin)).send({ name: 'X', role: 'king' })).status,
    ).toBe(400);

    const revoked = await request(app).delete(`/v1/users/${created.body.id}/tokens`).set(as(admin));
    expect(revoked.body).toEqual({ revoked: 1 });
    expect((await request(app).get('/v1/investigations').set(as(created.body))).status).toBe(401);
    expect((await request(app).delete(`/v1/users/${created.body.id}/tokens`).set(as(editor))).status).toBe(
      403,
    );
  });
});

describe('claim edits', () => {
  it('records exactly the changed fields, before and after, with the actor', async () => {
    const claim = await newClaim('Edited claim', { tags: ['a'] });
    const patched = await request(app)
      .patch(`/v1/claims/${claim.id}`)
      .set(as(editor))
      .send({ status: 'under_review', tags: ['a'] });
    expect(patched.status).toBe(200);
    expect(patched.body.status).toBe('under_review');
    const { rows } = await ctx.pool.query<{ body: string }>(
      `SELECT body FROM ledger_events WHERE subject_type = 'claim' AND subject_id = $1 AND type = 'claim_updated'`,
      [claim.id],
    );
    expect(rows).toHaveLength(1);
    const event = JSON.parse(rows[0]!.body);
    expect(event.data).toEqual({ before: { status: 'unverified' }, after: { status: 'under_review' } });
    expect(event.actor).toBe(`user:${editor.id}`);

    expect((await request(app).patch(`/v1/claims/${claim.id}`).set(as(editor)).send({})).status).toBe(400);
    expect(
      (await request(app).patch(`/v1/claims/${claim.id}`).set(as(editor)).send({ status: 'fake' })).status,
    ).toBe(400);
    expect(
      (await request(app).patch(`/v1/claims/${claim.id}`).set(as(outsider)).send({ status: 'false' })).status,
    ).toBe(404);
  });
});

describe('claim listing', () => {
  it('filters by status, tag and full text, and pages with a stable cursor', async () => {
    const burn = await newClaim('Russian troops burn the faces of dead North Korean soldiers', {
      tags: ['kursk'],
    });
    await newClaim('Unrelated statement about grain exports', { tags: ['grain'] });
    const third = await newClaim('North Korean troops arrived in Kursk', { tags: ['kursk'] });
    await request(app).patch(`/v1/claims/${third.id}`).set(as(editor)).send({ status: 'corroborated' });

    const list = (query: string) =>
      request(app).get(`/v1/investigations/${inv.id}/claims?${query}`).set(as(editor));
    const ids = (r: { body: { items: { id: string }[] } }) => r.body.items.map((c) => c.id);

    expect(ids(await list('q=burn faces "north korean"'))).toEqual([burn.id]);
    expect(ids(await list('q=zelenskyy')).length).toBeGreaterThanOrEqual(3); // claimant name is searched
    expect(ids(await list('tag=kursk'))).toEqual([burn.id, third.id]);
    expect(ids(await list('status=corroborated'))).toEqual([third.id]);
    expect((await list('status=maybe')).status).toBe(400);
    expect((await list('cursor=not-a-uuid')).status).toBe(400);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(`limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...ids(page));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain(burn.id);
    expect((await request(app).get(`/v1/investigations/${inv.id}/claims`).set(as(outsider))).status).toBe(
      404,
    );
  });
});
