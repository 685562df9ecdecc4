// The claims/sources side of issue 13's REST additions: an investigation's sources (keyset
// pages of source views with capture progress), a source's evidence, a claim's own custody
// chain, actorName on ledger events (not part of the hashed body), withdrawing a citation (a
// ledger event; the source and its custody stay) and a date-only claimedAt kept as given.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { createApp } from '../../src/http/app.ts';
import { canonicalJson, sha256Hex } from '../../src/ledger/canonical.ts';
import { appendEvent } from '../../src/ledger/ledger.repository.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const tag = randomUUID().slice(0, 8);
const mk = (name: string, role: 'admin' | 'editor' | 'auditor' | 'viewer') =>
  createUser(ctx, { name: `${name} ${tag}`, role }, 'system:test');
const admin = await mk('Admin', 'admin');
const editor = await mk('Olena Editor', 'editor');
const viewer = await mk('Viewer', 'viewer');
const outsider = await mk('Outsider', 'editor');
const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });

const inv = (await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'REST' })).body;
await request(app).post(`/v1/investigations/${inv.id}/members`).set(as(editor)).send({ userId: viewer.id });

async function newClaim(extra: object = {}) {
  const res = await request(app)
    .post(`/v1/investigations/${inv.id}/claims`)
    .set(as(editor))
    .send({ statement: `Claim ${randomUUID()}`, claimant: { name: 'Someone' }, ...extra });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; claimedAt: string | null };
}
async function cite(claimId: string, url: string, relation = 'origin') {
  const res = await request(app)
    .post(`/v1/claims/${claimId}/sources`)
    .set(as(editor))
    .send({ url, relation });
  expect(res.status, res.text).toBe(201);
  return res.body as { citation: { id: string }; source: { id: string; custody: { length: number } } };
}
const claimEvents = async (claimId: string, type: string) =>
  (
    await ctx.pool.query<{ body: string }>(
      `SELECT body FROM ledger_events WHERE subject_type = 'claim' AND subject_id = $1 AND type = $2 ORDER BY seq`,
      [claimId, type],
    )
  ).rows.map((r) => JSON.parse(r.body));

const claim = await newClaim();
const cited = [
  await cite(claim.id, 'https://example.com/one'),
  await cite(claim.id, 'https://example.com/two', 'supporting'),
  await cite(claim.id, 'https://example.com/three', 'context'),
];

describe('GET /v1/investigations/:id/sources', () => {
  it('pages the source views in creation order, each as GET /v1/sources/:id shows it', async () => {
    const seen: { id: string }[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string | number> = cursor ? { limit: 2, cursor } : { limit: 2 };
      const res = await request(app).get(`/v1/investigations/${inv.id}/sources`).query(query).set(as(viewer));
      expect(res.status, res.text).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor as string | null;
    } while (cursor);
    expect(seen.map((s) => s.id)).toEqual(cited.map((c) => c.source.id));
    for (const s of seen)
      expect(s).toEqual((await request(app).get(`/v1/sources/${s.id}`).set(as(viewer))).body);
  });

  it('shows capture progress: the capture each citation requested, queued (no worker runs here)', async () => {
    const res = await request(app).get(`/v1/sources/${cited[0]!.source.id}`).set(as(editor));
    expect(res.body.captures).toEqual([
      {
        id: expect.any(String),
        status: 'queued',
        reason: 'cited',
        attempts: 0,
        requestedAt: expect.any(String),
        startedAt: null,
        finishedAt: null,
        failure: null,
      },
    ]);
    // Newest first, at most 10.
    for (let i = 0; i < 11; i++)
      expect(
        (await request(app).post(`/v1/sources/${cited[0]!.source.id}/captures`).set(as(editor)).send({}))
          .status,
      ).toBe(202);
    const after = (await request(app).get(`/v1/sources/${cited[0]!.source.id}`).set(as(editor))).body;
    expect(after.captures).toHaveLength(10);
    expect(after.captures.map((c: { reason: string }) => c.reason)).toEqual(Array(10).fill('manual'));
    const times = after.captures.map((c: { requestedAt: string }) => c.requestedAt);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('is a 404 for outsiders and unknown investigations, a 400 for a bad cursor', async () => {
    for (const [who, path] of [
      [outsider, `/v1/investigations/${inv.id}/sources`],
      [editor, `/v1/investigations/${randomUUID()}/sources`],
      [editor, '/v1/investigations/nope/sources'],
    ] as const) {
      const res = await request(app).get(path).set(as(who));
      expect(res.status, path).toBe(404);
      expect(res.type).toBe('application/problem+json');
    }
    const bad = await request(app).get(`/v1/investigations/${inv.id}/sources?cursor=x`).set(as(editor));
    expect(bad.status).toBe(400);
  });
});

describe('GET /v1/sources/:id/evidence', () => {
  it("lists the source's evidence oldest first, each as GET /v1/evidence/:id shows it", async () => {
    const sourceId = cited[1]!.source.id;
    const empty = await request(app).get(`/v1/sources/${sourceId}/evidence`).set(as(viewer));
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ items: [] });
    const ids: string[] = [];
    for (const text of ['first copy', 'second copy']) {
      const up = await request(app)
        .post(`/v1/sources/${sourceId}/evidence`)
        .set(as(editor))
        .attach('file', Buffer.from(text), 'copy.txt');
      expect(up.status, up.text).toBe(201);
      ids.push(up.body.id);
    }
    const res = await request(app).get(`/v1/sources/${sourceId}/evidence`).set(as(viewer));
    expect(res.body.items.map((e: { id: string }) => e.id)).toEqual(ids);
    for (const e of res.body.items)
      expect(e).toEqual((await request(app).get(`/v1/evidence/${e.id}`).set(as(viewer))).body);
    expect((await request(app).get(`/v1/sources/${sourceId}/evidence`).set(as(outsider))).status).toBe(404);
  });
});

describe('custody pages with actorName', () => {
  it("GET /v1/claims/:id/custody pages the claim's own chain; actors by name, hashes unchanged", async () => {
    const all = await request(app).get(`/v1/claims/${claim.id}/custody`).set(as(viewer));
    expect(all.status, all.text).toBe(200);
    expect(all.body.items.map((e: { seq: number; type: string }) => [e.seq, e.type])).toEqual([
      [1, 'claim_created'],
      [2, 'citation_added'],
      [3, 'citation_added'],
      [4, 'citation_added'],
    ]);
    for (const e of all.body.items) {
      expect(e.actor).toBe(`user:${editor.id}`);
      expect(e.actorName).toBe(editor.name);
      // actorName is not part of the canonical body: the hash is the body's without it.
      const { hash, logIndex: _l, actorName: _n, ...body } = e;
      expect(sha256Hex(canonicalJson(body))).toBe(hash);
    }
    const first = await request(app).get(`/v1/claims/${claim.id}/custody?limit=3`).set(as(viewer));
    expect(first.body.nextCursor).toBe('3');
    const rest = await request(app).get(`/v1/claims/${claim.id}/custody?limit=3&cursor=3`).set(as(viewer));
    expect([...first.body.items, ...rest.body.items]).toEqual(all.body.items);
    expect(rest.body.nextCursor).toBeNull();
    expect((await request(app).get(`/v1/claims/${claim.id}/custody`).set(as(outsider))).status).toBe(404);
  });

  it('names users on source custody too, and shows worker and system actors as they are', async () => {
    const sourceId = cited[2]!.source.id;
    await writeTransaction(ctx.pool, (tx) =>
      appendEvent(tx, {
        subject: { type: 'source', id: sourceId },
        type: 'recapture_scheduled',
        actor: 'worker:capture-test',
        data: { everySeconds: null },
      }),
    );
    const res = await request(app).get(`/v1/sources/${sourceId}/custody`).set(as(viewer));
    expect(res.body.items.map((e: { actor: string; actorName: string }) => [e.actor, e.actorName])).toEqual([
      [`user:${editor.id}`, editor.name],
      [`user:${editor.id}`, editor.name],
      ['worker:capture-test', 'worker:capture-test'],
    ]);
  });
});

describe('DELETE /v1/citations/:id', () => {
  it('withdraws the citation with a citation_withdrawn event; the source and its custody stay', async () => {
    const c = await newClaim();
    const { citation, source } = await cite(c.id, 'https://example.com/withdrawn');
    const before = (await request(app).get(`/v1/sources/${source.id}`).set(as(editor))).body;
    const res = await request(app).delete(`/v1/citations/${citation.id}`).set(as(editor));
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      citationId: citation.id,
      claimId: c.id,
      sourceId: source.id,
      relation: 'origin',
      withdrawnAt: expect.any(String),
    });
    const [event] = await claimEvents(c.id, 'citation_withdrawn');
    expect(event).toMatchObject({
      actor: `user:${editor.id}`,
      at: res.body.withdrawnAt,
      data: { citationId: citation.id, sourceId: source.id, relation: 'origin' },
    });
    expect((await request(app).get(`/v1/claims/${c.id}`).set(as(editor))).body.citations).toEqual([]);
    const after = await request(app).get(`/v1/sources/${source.id}`).set(as(editor));
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before);
    // Withdrawn once: the second time there is nothing to withdraw. Citing again is allowed.
    expect((await request(app).delete(`/v1/citations/${citation.id}`).set(as(editor))).status).toBe(404);
    expect((await cite(c.id, 'https://example.com/withdrawn')).source.id).toBe(source.id);
  });

  it('is a 404 for outsiders and unknown ids, a 403 for viewers, and writes nothing then', async () => {
    const c = await newClaim();
    const { citation } = await cite(c.id, 'https://example.com/kept');
    for (const [who, id, status] of [
      [outsider, citation.id, 404],
      [editor, randomUUID(), 404],
      [editor, 'not-an-id', 404],
      [viewer, citation.id, 403],
    ] as const) {
      const res = await request(app).delete(`/v1/citations/${id}`).set(as(who));
      expect(res.status, `${who.name} ${id}`).toBe(status);
      expect(res.type).toBe('application/problem+json');
    }
    expect(await claimEvents(c.id, 'citation_withdrawn')).toEqual([]);
    expect((await request(app).get(`/v1/claims/${c.id}`).set(as(editor))).body.citations).toHaveLength(1);
  });

  it('two racing withdrawals: one 200, one 404, one event', async () => {
    const c = await newClaim();
    const { citation } = await cite(c.id, 'https://example.com/raced');
    const results = await Promise.all(
      [editor, admin].map((u) => request(app).delete(`/v1/citations/${citation.id}`).set(as(u))),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 404]);
    expect(await claimEvents(c.id, 'citation_withdrawn')).toHaveLength(1);
  });
});

describe('claimedAt as given', () => {
  it('keeps a date a date and a date-time a date-time, in the view, its events and PATCH', async () => {
    const dated = await newClaim({ claimedAt: '2024-12-17' });
    expect(dated.claimedAt).toBe('2024-12-17');
    expect((await request(app).get(`/v1/claims/${dated.id}`).set(as(viewer))).body.claimedAt).toBe(
      '2024-12-17',
    );
    const [created] = await claimEvents(dated.id, 'claim_created');
    expect(created.data.claim.claimedAt).toBe('2024-12-17');

    const timed = await request(app)
      .patch(`/v1/claims/${dated.id}`)
      .set(as(editor))
      .send({ claimedAt: '2024-12-17T10:30:00+02:00' });
    expect(timed.status, timed.text).toBe(200);
    expect(timed.body.claimedAt).toBe('2024-12-17T08:30:00.000Z');
    // Midnight UTC given as a date-time stays a date-time; the same instant as a date is an edit.
    const midnight = await request(app)
      .patch(`/v1/claims/${dated.id}`)
      .set(as(editor))
      .send({ claimedAt: '2024-12-17T00:00:00Z' });
    expect(midnight.body.claimedAt).toBe('2024-12-17T00:00:00.000Z');
    const back = await request(app)
      .patch(`/v1/claims/${dated.id}`)
      .set(as(editor))
      .send({ claimedAt: '2024-12-17' });
    expect(back.body.claimedAt).toBe('2024-12-17');
    const updates = await claimEvents(dated.id, 'claim_updated');
    expect(updates.map((e) => [e.data.before.claimedAt, e.data.after.claimedAt])).toEqual([
      ['2024-12-17', '2024-12-17T08:30:00.000Z'],
      ['2024-12-17T08:30:00.000Z', '2024-12-17T00:00:00.000Z'],
      ['2024-12-17T00:00:00.000Z', '2024-12-17'],
    ]);
    const list = await request(app).get(`/v1/investigations/${inv.id}/claims?limit=200`).set(as(viewer));
    expect(list.body.items.find((i: { id: string }) => i.id === dated.id).claimedAt).toBe('2024-12-17');
  });

  it('refuses what is neither, with a 400 naming the field', async () => {
    for (const claimedAt of ['2024-13-01', '2024-12-17T10:30', '17.12.2024', '2024-12-17 ']) {
      const res = await request(app)
        .post(`/v1/investigations/${inv.id}/claims`)
        .set(as(editor))
        .send({ statement: 'x', claimant: { name: 'y' }, claimedAt });
      expect(res.status, claimedAt).toBe(400);
      expect(JSON.stringify(res.body.errors)).toContain('body.claimedAt');
    }
  });
});
