// Users and tokens over HTTP, claim edits recorded with before/after, and claim listing
// with filters, full-text search and cursor pagination.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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

describe('claimtrail user add', () => {
  it('creates a user on the pool and prints it with a token that works; the event names the CLI', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['bin/claimtrail.mjs', 'user', 'add', '--name', ' Ada ', '--role', 'auditor'],
      { env: process.env, encoding: 'utf8' },
    );
    const created = JSON.parse(stdout);
    expect(created).toMatchObject({ name: 'Ada', role: 'auditor', token: expect.stringMatching(/^ct_/) });
    expect((await request(app).get('/v1/investigations').set(as(created))).status).toBe(200);
    const { rows } = await ctx.pool.query<{ body: string }>(
      `SELECT body FROM ledger_events WHERE subject_type = 'user' AND subject_id = $1`,
      [created.id],
    );
    expect(rows.map((r) => JSON.parse(r.body))).toMatchObject([
      { type: 'user_created', actor: 'system:cli', data: { name: 'Ada', role: 'auditor' } },
    ]);
  });
});

describe('users and tokens: refusals', () => {
  const userEvents = async (id: string) =>
    Number(
      (
        await ctx.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM ledger_events WHERE subject_type = 'user' AND subject_id = $1`,
          [id],
        )
      ).rows[0]!.n,
    );

  it('revoking the tokens of an unknown user is a 404 problem, and writes nothing', async () => {
    const unknown = '01900000-0000-7000-8000-000000000000';
    const res = await request(app).delete(`/v1/users/${unknown}/tokens`).set(as(admin));
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      type: 'urn:claimtrail:problem:not_found',
      detail: `No user ${unknown}.`,
    });
    expect(await userEvents(unknown)).toBe(0);
    // Not an id at all: the same 404, not a database error.
    const junk = await request(app).delete('/v1/users/not-a-user/tokens').set(as(admin));
    expect(junk.status).toBe(404);
    expect(junk.body.type).toBe('urn:claimtrail:problem:not_found');
  });

  it('revoking a user without live tokens records that nothing was revoked', async () => {
    const user = await createUser(ctx, { name: 'Twice revoked', role: 'viewer' }, 'system:test');
    expect((await request(app).delete(`/v1/users/${user.id}/tokens`).set(as(admin))).body).toEqual({
      revoked: 1,
    });
    expect((await request(app).delete(`/v1/users/${user.id}/tokens`).set(as(admin))).body).toEqual({
      revoked: 0,
    });
    const { rows } = await ctx.pool.query<{ body: string }>(
      `SELECT body FROM ledger_events WHERE subject_type = 'user' AND subject_id = $1 ORDER BY seq`,
      [user.id],
    );
    expect(rows.map((r) => JSON.parse(r.body)).map((e) => [e.type, e.data, e.actor])).toEqual([
      ['user_created', { name: 'Twice revoked', role: 'viewer' }, 'system:test'],
      ['user_tokens_revoked', { revoked: 1 }, `user:${admin.id}`],
      ['user_tokens_revoked', { revoked: 0 }, `user:${admin.id}`],
    ]);
  });
});

describe('members', () => {
  it('two requests adding the same member at once: one 201, one 409 problem, one membership and one event', async () => {
    const team = (await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Race' })).body;
    const joiner = await createUser(ctx, { name: 'Joiner', role: 'viewer' }, 'system:test');
    const add = () =>
      request(app).post(`/v1/investigations/${team.id}/members`).set(as(editor)).send({ userId: joiner.id });
    const results = await Promise.all([add(), add(), add()]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const added = results.find((r) => r.status === 201)!;
    expect(added.body).toMatchObject({ investigationId: team.id, userId: joiner.id, role: 'viewer' });
    for (const r of results.filter((r) => r.status === 409))
      expect(r.body.type).toBe('urn:claimtrail:problem:conflict');
    const members = await ctx.pool.query(
      'SELECT user_id FROM memberships WHERE investigation_id = $1 ORDER BY user_id',
      [team.id],
    );
    expect(members.rows.map((m) => m.user_id).sort()).toEqual([editor.id, joiner.id].sort());
    const { rows } = await ctx.pool.query<{ body: string }>(
      `SELECT body FROM ledger_events WHERE subject_type = 'investigation' AND subject_id = $1 ORDER BY seq`,
      [team.id],
    );
    const events = rows.map((r) => JSON.parse(r.body));
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['investigation_created', { title: 'Race', description: null }],
      ['member_added', { userId: editor.id, role: 'editor' }],
      ['member_added', { userId: joiner.id, role: 'viewer' }],
    ]);
    // The rows and their events share one timestamp.
    expect(events[0].at).toBe(team.createdAt);
    expect(events[2].at).toBe(added.body.addedAt);
  });

  it('an unknown user is a 422 problem naming body.userId, and nothing is written', async () => {
    const team = (await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Nobody' }))
      .body;
    const res = await request(app)
      .post(`/v1/investigations/${team.id}/members`)
      .set(as(editor))
      .send({ userId: '01900000-0000-7000-8000-000000000000' });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ path: 'body.userId', message: 'unknown user' }]);
    const events = await ctx.pool.query(
      `SELECT 1 FROM ledger_events WHERE subject_type = 'investigation' AND subject_id = $1`,
      [team.id],
    );
    expect(events.rowCount).toBe(2); // investigation_created, member_added (the creator)
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
