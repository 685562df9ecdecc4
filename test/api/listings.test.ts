// The listing and removal routes the web app stands on (issue 13): members with names,
// removing a member (a ledger event; they lose access, their past events stay), users for
// admins, and each caller's own exports.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const tag = randomUUID().slice(0, 8);
const mk = (name: string, role: 'admin' | 'editor' | 'auditor' | 'viewer') =>
  createUser(ctx, { name: `${name} ${tag}`, role }, 'system:test');
const admin = await mk('Admin', 'admin');
const editor = await mk('Olena Editor', 'editor');
const auditor = await mk('Auditor', 'auditor');
const viewer = await mk('Viewer', 'viewer');
const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });

const inv = (await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Members' })).body;
for (const u of [auditor, viewer]) {
  await request(app).post(`/v1/investigations/${inv.id}/members`).set(as(editor)).send({ userId: u.id });
}
const events = async (type: string) =>
  (
    await ctx.pool.query<{ body: string }>(
      `SELECT body FROM ledger_events WHERE subject_type = 'investigation' AND subject_id = $1 AND type = $2 ORDER BY seq`,
      [inv.id, type],
    )
  ).rows.map((r) => JSON.parse(r.body));

describe('members', () => {
  it('lists members with their names and roles, the creator first', async () => {
    const res = await request(app).get(`/v1/investigations/${inv.id}/members`).set(as(viewer));
    expect(res.status).toBe(200);
    expect(res.body.items.map((m: { name: string; role: string }) => [m.name, m.role])).toEqual([
      [editor.name, 'editor'],
      [auditor.name, 'auditor'],
      [viewer.name, 'viewer'],
    ]);
    expect(res.body.items[0]).toMatchObject({ investigationId: inv.id, userId: editor.id });
  });

  it('removing a member records member_removed, and they then find nothing', async () => {
    expect((await request(app).get(`/v1/investigations/${inv.id}`).set(as(viewer))).status).toBe(200);
    const res = await request(app)
      .delete(`/v1/investigations/${inv.id}/members/${viewer.id}`)
      .set(as(editor));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ investigationId: inv.id, userId: viewer.id });
    const [removed] = await events('member_removed');
    expect(removed).toMatchObject({
      actor: `user:${editor.id}`,
      data: { userId: viewer.id },
      at: res.body.removedAt,
    });
    expect((await request(app).get(`/v1/investigations/${inv.id}`).set(as(viewer))).status).toBe(404);
    const members = await request(app).get(`/v1/investigations/${inv.id}/members`).set(as(editor));
    expect(members.body.items.map((m: { userId: string }) => m.userId)).not.toContain(viewer.id);
    // Their addition stays in the investigation's chain.
    expect((await events('member_added')).map((e) => e.data.userId)).toContain(viewer.id);
  });

  it('removing someone who is not a member is a 404 problem and writes nothing', async () => {
    const before = (await events('member_removed')).length;
    for (const who of [viewer.id, randomUUID(), 'not-a-uuid']) {
      const res = await request(app).delete(`/v1/investigations/${inv.id}/members/${who}`).set(as(admin));
      expect(res.status, who).toBe(404);
      expect(res.type).toBe('application/problem+json');
    }
    expect(await events('member_removed')).toHaveLength(before);
  });

  it('two racing removals of one member: one 200, one 404, one event', async () => {
    const u = await mk('Racer', 'viewer');
    await request(app).post(`/v1/investigations/${inv.id}/members`).set(as(editor)).send({ userId: u.id });
    const before = (await events('member_removed')).length;
    const results = await Promise.all(
      [editor, admin].map((who) =>
        request(app).delete(`/v1/investigations/${inv.id}/members/${u.id}`).set(as(who)),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 404]);
    expect(await events('member_removed')).toHaveLength(before + 1);
  });
});

describe('users', () => {
  it('admins list users with live token counts, page by page', async () => {
    const revoked = await mk('Revoked', 'viewer');
    await request(app).delete(`/v1/users/${revoked.id}/tokens`).set(as(admin));
    const seen = new Map<string, { name: string; role: string; activeTokens: number }>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: request.Response = await request(app)
        .get('/v1/users')
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(as(admin));
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      for (const u of res.body.items) seen.set(u.id, u);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThan(1);
    expect(seen.get(editor.id)).toMatchObject({ name: editor.name, role: 'editor', activeTokens: 1 });
    expect(seen.get(revoked.id)).toMatchObject({ activeTokens: 0 });
    const forbidden = await request(app).get('/v1/users').set(as(editor));
    expect(forbidden.status).toBe(403);
    expect(forbidden.type).toBe('application/problem+json');
  });
});

describe('exports', () => {
  it('each caller lists their own exports, newest first; admins list all', async () => {
    const mine = [];
    for (const format of ['csv', 'json']) {
      const res = await request(app)
        .post('/v1/exports')
        .set(as(auditor))
        .send({ investigationId: inv.id, format });
      expect(res.status).toBe(202);
      mine.push(res.body.id);
    }
    const theirs = (
      await request(app).post('/v1/exports').set(as(editor)).send({ investigationId: inv.id, format: 'csv' })
    ).body.id;
    const list = await request(app).get('/v1/exports').set(as(auditor));
    expect(list.body.items.map((e: { id: string }) => e.id)).toEqual([...mine].reverse());
    expect(list.body.items[0]).toMatchObject({ requestedBy: auditor.id, scope: { investigationId: inv.id } });
    const page = await request(app).get('/v1/exports').query({ limit: 1 }).set(as(auditor));
    expect(page.body.items.map((e: { id: string }) => e.id)).toEqual([mine[1]]);
    const next = await request(app)
      .get('/v1/exports')
      .query({ limit: 1, cursor: page.body.nextCursor })
      .set(as(auditor));
    expect(next.body.items.map((e: { id: string }) => e.id)).toEqual([mine[0]]);
    const all = (await request(app).get('/v1/exports').query({ limit: 200 }).set(as(admin))).body.items.map(
      (e: { id: string }) => e.id,
    );
    expect(all).toEqual(expect.arrayContaining([...mine, theirs]));
  });
});
