// Idempotency-Key on POST: a retry replays the first response and creates nothing; another
// body under the same key is a 422; two identical requests racing create one row and one event.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const editor = await createUser(ctx.prisma, { name: 'Editor', role: 'editor' }, 'system:test');
const as = { Authorization: `Bearer ${editor.token}` };
const inv = (await request(app).post('/v1/investigations').set(as).send({ title: 'Idempotency' })).body;
const claimBody = { statement: 'Posted twice.', claimant: { name: 'Someone' } };
const countClaims = async () =>
  Number(
    (
      await ctx.pool.query<{ n: string }>(
        'SELECT count(*)::text AS n FROM claims WHERE investigation_id = $1',
        [inv.id],
      )
    ).rows[0]!.n,
  );
const claimEvents = async (id: string) =>
  (await ctx.pool.query("SELECT 1 FROM ledger_events WHERE subject_type = 'claim' AND subject_id = $1", [id]))
    .rowCount;

describe('Idempotency-Key', () => {
  it('replays the first response for a sequential retry and creates nothing new', async () => {
    const before = await countClaims();
    const post = () =>
      request(app)
        .post(`/v1/investigations/${inv.id}/claims`)
        .set(as)
        .set('Idempotency-Key', 'seq-1')
        .send(claimBody);
    const first = await post();
    const second = await post();
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await countClaims()).toBe(before + 1);
    expect(await claimEvents(first.body.id)).toBe(1);
  });

  it('refuses the same key with another body (422) and keys are per user', async () => {
    const url = `/v1/investigations/${inv.id}/claims`;
    expect((await request(app).post(url).set(as).set('Idempotency-Key', 'k2').send(claimBody)).status).toBe(
      201,
    );
    const other = await request(app)
      .post(url)
      .set(as)
      .set('Idempotency-Key', 'k2')
      .send({ ...claimBody, statement: 'Something else.' });
    expect(other.status).toBe(422);
    expect(other.body.type).toBe('urn:claimtrail:problem:idempotency_key_reused');
    expect(
      (await request(app).post(url).set(as).set('Idempotency-Key', 'bad key with spaces').send(claimBody))
        .status,
    ).toBe(400);
  });

  it('two identical requests racing create one claim and one ledger event', async () => {
    const before = await countClaims();
    const post = () =>
      request(app)
        .post(`/v1/investigations/${inv.id}/claims`)
        .set(as)
        .set('Idempotency-Key', 'race-1')
        .send(claimBody);
    const results = await Promise.all([post(), post(), post(), post()]);
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(await countClaims()).toBe(before + 1);
    expect(await claimEvents([...ids][0])).toBe(1);
  });

  it('a deeply nested body with a key is a 400, never a stack overflow', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const r = await request(app)
      .post(`/v1/investigations/${inv.id}/claims`)
      .set(as)
      .set('Idempotency-Key', 'deep-1')
      .set('Content-Type', 'application/json')
      .send(deep);
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/nested deeper/);
  });

  it('a failed request releases its key so that a corrected retry can use it', async () => {
    const url = `/v1/investigations/${inv.id}/claims`;
    const bad = await request(app)
      .post(url)
      .set(as)
      .set('Idempotency-Key', 'retry-1')
      .send({ statement: '' });
    expect(bad.status).toBe(400);
    const good = await request(app)
      .post(url)
      .set(as)
      .set('Idempotency-Key', 'retry-1')
      .send({ statement: '' });
    expect(good.status).toBe(400); // same request again: validated again, not replayed as success
  });
});
