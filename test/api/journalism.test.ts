// The seed case through the REST API (../shared/examples/seed-article.txt), its ledger
// events and custody verification, tenancy (404 for outsiders, 403 for roles) and hostile
// input that must be refused without writing anything.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';
import { useSequencer, waitForIntegration } from '../helpers/sequencer.ts';

const ctx = useTestContext();
await useSequencer(ctx);
const { app } = createApp(ctx);

const mk = (name: string, role: 'admin' | 'editor' | 'auditor' | 'viewer') =>
  createUser(ctx, { name, role }, 'system:test');
const [admin, editor, outsider, auditor, viewer] = await Promise.all([
  mk('Admin', 'admin'),
  mk('Editor', 'editor'),
  mk('Other newsroom editor', 'editor'),
  mk('Auditor', 'auditor'),
  mk('Viewer', 'viewer'),
]);
const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });

const inv = await request(app)
  .post('/v1/investigations')
  .set(as(editor!))
  .send({ title: 'North Korean soldiers in Kursk', description: 'Zelenskyy, 2024-12-17' });
for (const u of [auditor!, viewer!]) {
  await request(app)
    .post(`/v1/investigations/${inv.body.id}/members`)
    .set(as(editor!))
    .send({ userId: u.id });
}

const seedClaim = {
  statement:
    'Russian troops burn the faces of dead North Korean soldiers to hide their participation in the war.',
  claimant: { name: 'Volodymyr Zelenskyy', role: 'President of Ukraine' },
  claimedAt: '2024-12-17T00:00:00Z',
  language: 'en',
  tags: ['north-korea', 'kursk'],
};
const xPost = 'https://twitter.com/ZelenskyyUa/status/1869026934460596542/video/1?s=46&t=AbCdEf';
const video = 'https://video.example.org/zelenskyy-2024-12-17.mp4?utm_source=tg';

describe('the seed case', () => {
  it('is logged, cited, read back, and leaves a verifiable chain of custody', async () => {
    expect(inv.status).toBe(201);
    const claim = await request(app)
      .post(`/v1/investigations/${inv.body.id}/claims`)
      .set(as(editor!))
      .send(seedClaim);
    expect(claim.status).toBe(201);
    expect(claim.body).toMatchObject({
      status: 'unverified',
      claimant: seedClaim.claimant,
      tags: seedClaim.tags,
    });

    const origin = await request(app)
      .post(`/v1/claims/${claim.body.id}/sources`)
      .set(as(editor!))
      .send({ url: xPost, relation: 'origin' });
    expect(origin.status).toBe(201);
    expect(origin.body.source).toMatchObject({
      normalizedUrl: 'https://x.com/zelenskyyua/status/1869026934460596542',
      platform: { name: 'x', handle: 'zelenskyyua', postId: '1869026934460596542' },
      status: 'pending',
      custody: { length: 2 }, // source_cited, capture_requested (no worker runs in this file)
    });
    const supporting = await request(app)
      .post(`/v1/claims/${claim.body.id}/sources`)
      .set(as(editor!))
      .send({ url: video, relation: 'supporting', expected: { durationSeconds: 31, mediaType: 'video' } });
    expect(supporting.status).toBe(201);
    expect(supporting.body.source.normalizedUrl).toBe('https://video.example.org/zelenskyy-2024-12-17.mp4');
    expect(supporting.body.citation.expected).toEqual({ durationSeconds: 31, mediaType: 'video' });

    // The same post spelled differently, cited by another claim, is the same source.
    const other = await request(app)
      .post(`/v1/investigations/${inv.body.id}/claims`)
      .set(as(editor!))
      .send({ statement: 'A second claim citing the same post.', claimant: { name: 'Someone' } });
    const again = await request(app)
      .post(`/v1/claims/${other.body.id}/sources`)
      .set(as(editor!))
      .send({ url: 'https://x.com/i/web/status/1869026934460596542', relation: 'context' });
    expect(again.status).toBe(201);
    expect(again.body.source.id).toBe(origin.body.source.id);
    expect(again.body.source.custody.length).toBe(3); // a reused source is not captured again

    const read = await request(app).get(`/v1/claims/${claim.body.id}`).set(as(viewer!));
    expect(read.status).toBe(200);
    expect(read.body.citations.map((c: { relation: string }) => c.relation).sort()).toEqual([
      'origin',
      'supporting',
    ]);

    await waitForIntegration(ctx);
    const custody = await request(app).get(`/v1/sources/${origin.body.source.id}/custody`).set(as(auditor!));
    expect(custody.status).toBe(200);
    expect(custody.body.nextCursor).toBeNull();
    expect(custody.body.items.map((e: { seq: number; type: string }) => [e.seq, e.type])).toEqual([
      [1, 'source_cited'],
      [2, 'capture_requested'],
      [3, 'source_cited'],
    ]);
    for (const e of custody.body.items) {
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(typeof e.logIndex).toBe('number');
      expect(e.actor).toBe(`user:${editor!.id}`);
    }
    expect(custody.body.items[1].prev).toBe(custody.body.items[0].hash);
    expect(custody.body.items[1].data).toEqual({ captureId: expect.any(String), reason: 'cited' });
    const verify = await request(app)
      .get(`/v1/sources/${origin.body.source.id}/custody/verify`)
      .set(as(viewer!));
    // Every event proven against the latest signed checkpoint, none left pending.
    expect(verify.body).toEqual({
      valid: true,
      length: 3,
      headHash: custody.body.items[2].hash,
      checkpoint: { size: expect.any(Number) },
      pending: 0,
    });
    expect(verify.body.checkpoint.size).toBeGreaterThan(custody.body.items[2].logIndex);

    const claimEvents = await ctx.pool.query<{ type: string }>(
      `SELECT type FROM ledger_events WHERE subject_type = 'claim' AND subject_id = $1 ORDER BY seq`,
      [claim.body.id],
    );
    expect(claimEvents.rows.map((r) => r.type)).toEqual([
      'claim_created',
      'citation_added',
      'citation_added',
    ]);
  });
});

describe('tenancy and roles', () => {
  it('answers 401 without a valid token, 404 to outsiders and 403 to roles that may not act', async () => {
    const claim = await request(app)
      .post(`/v1/investigations/${inv.body.id}/claims`)
      .set(as(editor!))
      .send(seedClaim);
    const cite = await request(app)
      .post(`/v1/claims/${claim.body.id}/sources`)
      .set(as(editor!))
      .send({ url: 'https://example.com/a', relation: 'context' });
    const sourceId = cite.body.source.id;
    const gets = [
      `/v1/investigations/${inv.body.id}`,
      `/v1/claims/${claim.body.id}`,
      `/v1/sources/${sourceId}`,
      `/v1/sources/${sourceId}/custody`,
      `/v1/sources/${sourceId}/custody/verify`,
    ];
    for (const path of gets) {
      expect((await request(app).get(path)).status).toBe(401);
      expect((await request(app).get(path).set({ Authorization: 'Bearer ct_nottherealtoken' })).status).toBe(
        401,
      );
      const hidden = await request(app).get(path).set(as(outsider!));
      expect(hidden.status, path).toBe(404);
      expect(hidden.type).toBe('application/problem+json');
      for (const u of [admin!, editor!, auditor!, viewer!])
        expect((await request(app).get(path).set(as(u))).status).toBe(200);
    }
    // Not found looks exactly like hidden.
    const missing = await request(app)
      .get('/v1/claims/0190a0a0-0000-7000-8000-000000000000')
      .set(as(outsider!));
    expect(missing.status).toBe(404);

    const outsiderList = await request(app).get('/v1/investigations').set(as(outsider!));
    expect(outsiderList.body.items.map((i: { id: string }) => i.id)).not.toContain(inv.body.id);

    expect(
      (await request(app).post(`/v1/investigations/${inv.body.id}/claims`).set(as(outsider!)).send(seedClaim))
        .status,
    ).toBe(404);
    expect(
      (await request(app).post(`/v1/investigations/${inv.body.id}/claims`).set(as(viewer!)).send(seedClaim))
        .status,
    ).toBe(403);
    expect(
      (
        await request(app)
          .post(`/v1/claims/${claim.body.id}/sources`)
          .set(as(auditor!))
          .send({ url: 'https://example.com/b', relation: 'context' })
      ).status,
    ).toBe(403);
    expect((await request(app).post('/v1/investigations').set(as(viewer!)).send({ title: 't' })).status).toBe(
      403,
    );
  });
});

describe('hostile input', () => {
  it('refuses bad URLs and bodies with a precise 4xx problem and writes nothing', async () => {
    const claim = await request(app)
      .post(`/v1/investigations/${inv.body.id}/claims`)
      .set(as(editor!))
      .send(seedClaim);
    const count = async () =>
      Number(
        (
          await ctx.pool.query<{ n: string }>(
            "SELECT count(*)::text AS n FROM ledger_events WHERE subject_type <> 'user'",
          )
        ).rows[0]!.n,
      );
    const before = await count();
    const bad = [
      { url: 'javascript:alert(1)', relation: 'origin' },
      { url: 'file:///etc/passwd', relation: 'origin' },
      { url: 'https://user:secret@example.com/x', relation: 'origin' },
      { url: `https://example.com/${'a'.repeat(2100)}`, relation: 'origin' },
      { url: 'https://example.com/x', relation: 'rumour' },
      { url: 'https://example.com/x', relation: 'origin', extra: 1 },
      { url: 'https://example.com/x', relation: 'origin', expected: { durationSeconds: -3 } },
    ];
    for (const body of bad) {
      const r = await request(app).post(`/v1/claims/${claim.body.id}/sources`).set(as(editor!)).send(body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.type).toBe('application/problem+json');
      expect(r.body.errors.length).toBeGreaterThan(0);
    }
    const badClaims = [
      { ...seedClaim, statement: 'nul \u0000 inside' },
      { ...seedClaim, statement: '   ' },
      { ...seedClaim, claimedAt: 'yesterday' },
      { ...seedClaim, unknown: true },
      { ...seedClaim, tags: Array.from({ length: 40 }, (_, i) => `t${i}`) },
    ];
    for (const body of badClaims) {
      const r = await request(app)
        .post(`/v1/investigations/${inv.body.id}/claims`)
        .set(as(editor!))
        .send(body);
      expect(r.status).toBe(400);
    }
    const url = `/v1/investigations/${inv.body.id}/claims`;
    const raw = (type: string, body: string) =>
      request(app).post(url).set(as(editor!)).set('Content-Type', type).send(body);
    expect((await raw('application/json', '{"statement": "x", ')).status).toBe(400);
    expect((await raw('text/plain', JSON.stringify(seedClaim))).status).toBe(415);
    expect((await raw('application/x-www-form-urlencoded', 'statement=x')).status).toBe(415);
    const huge = JSON.stringify({ ...seedClaim, statement: 'x'.repeat(10 * 1024 * 1024) });
    expect((await raw('application/json', huge)).status).toBe(413);
    expect((await raw('application/json', `${'['.repeat(50_000)}${']'.repeat(50_000)}`)).status).toBe(400);
    // RTL and zero-width characters are text, not an attack: kept exactly.
    const rtl = await request(app)
      .post(`/v1/investigations/${inv.body.id}/claims`)
      .set(as(editor!))
      .send({ ...seedClaim, statement: 'זלנסקי אמר\u200b: "..."' });
    expect(rtl.status).toBe(201);
    expect(rtl.body.statement).toBe('זלנסקי אמר\u200b: "..."');
    expect(await count()).toBe(before + 1);
  });
});
