// Text PostgreSQL refuses (NUL; a lone UTF-16 surrogate) anywhere in a request — a JSON string
// or key at any depth, a query parameter, a path parameter — is a 400 problem naming the
// field, on every route, and writes nothing (not even an idempotency record). Before: a 500
// from the database and ~70 KB of log per request. The ledger itself refuses such data with
// a programming error rather than a raw database error.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { createApp } from '../../src/http/app.ts';
import { appendEvent, UnstorableEventError } from '../../src/ledger/ledger.repository.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const [admin, editor] = await Promise.all([
  createUser(ctx, { name: 'Admin', role: 'admin' }, 'system:test'),
  createUser(ctx, { name: 'Editor', role: 'editor' }, 'system:test'),
]);
const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });

const inv = await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Text tests' });
const claim = await request(app)
  .post(`/v1/investigations/${inv.body.id}/claims`)
  .set(as(editor))
  .send({ statement: 'A clean claim', claimant: { name: 'Someone' } });

type Case = [what: string, req: () => request.Test, paths: string[]];

const post = (path: string, body: unknown, user = editor) =>
  request(app).post(path).set(as(user)).set('Content-Type', 'application/json').send(JSON.stringify(body));

const cases: Case[] = [
  [
    'lone high surrogate in a body string',
    () => post('/v1/investigations', { title: '\ud800' }),
    ['body.title'],
  ],
  [
    'lone surrogate as raw JSON text (\\udc00 escape)',
    () =>
      request(app)
        .post('/v1/investigations')
        .set(as(editor))
        .set('Content-Type', 'application/json')
        .send('{"title":"ok","description":"x\\udc00y"}'),
    ['body.description'],
  ],
  [
    'NUL in a nested string',
    () =>
      post(`/v1/investigations/${inv.body.id}/claims`, {
        statement: 'ok',
        claimant: { name: 'a\u0000b' },
        tags: ['fine', 't\u0000'],
      }),
    ['body.tags.1', 'body.claimant.name'],
  ],
  ['NUL in a key', () => post('/v1/investigations', { title: 'ok', 'k\u0000': 1 }), ['body.k\\u0000']],
  [
    'PATCH a claim',
    () =>
      request(app)
        .patch(`/v1/claims/${claim.body.id}`)
        .set(as(editor))
        .send({ statement: 'new\u0000statement' }),
    ['body.statement'],
  ],
  [
    'a citation expectation',
    () =>
      post(`/v1/claims/${claim.body.id}/sources`, {
        url: 'https://example.org/a',
        relation: 'origin',
        expected: { mediaType: 'video', note: '\udfff' },
      }),
    ['body.expected.note'],
  ],
  [
    'a user name (admin route)',
    () => post('/v1/users', { name: 'Eve\u0000', role: 'viewer' }, admin),
    ['body.name'],
  ],
  [
    'NUL in a query parameter (the issue: ?q=a%00b)',
    () => request(app).get(`/v1/investigations/${inv.body.id}/claims?q=a%00b`).set(as(editor)),
    ['query.q'],
  ],
  [
    'NUL in a query parameter of a public route',
    () => request(app).get('/v1/log/proof/inclusion?hash=%00&size=1'),
    ['query.hash'],
  ],
  ['NUL in a path parameter', () => request(app).get('/v1/claims/a%00b').set(as(editor)), ['params.id']],
];

describe('requests holding text Postgres cannot store', () => {
  it.each(cases)('%s: 400 naming the field', async (_what, send, paths) => {
    const res = await send();
    expect(res.status, res.text).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.type).toBe('urn:claimtrail:problem:validation_failed');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([...paths].sort());
  });

  it('a path that is not percent-encoded UTF-8 (a lone surrogate, %ZZ): 400, not 500', async () => {
    for (const path of ['/v1/claims/%ED%A0%80', '/v1/sources/%ZZ']) {
      const res = await request(app).get(path).set(as(editor));
      expect([path, res.status, res.body.type]).toEqual([path, 400, 'urn:claimtrail:problem:bad_request']);
    }
  });

  it('writes nothing: no investigation, no claim change, no idempotency record', async () => {
    const key = `text-${randomUUID()}`;
    const before = await ctx.prisma.investigation.count();
    const res = await request(app)
      .post('/v1/investigations')
      .set(as(editor))
      .set('Idempotency-Key', key)
      .send({ title: 'x\u0000' });
    expect(res.status).toBe(400);
    expect(await ctx.prisma.investigation.count()).toBe(before);
    const { rows } = await ctx.pool.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [key]);
    expect(rows).toEqual([]);
    const read = await request(app).get(`/v1/claims/${claim.body.id}`).set(as(editor));
    expect(read.body.statement).toBe('A clean claim');
    // Clean text with characters outside the BMP (a valid surrogate pair) is fine.
    const ok = await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Kursk 🇺🇦 ok' });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.title).toBe('Kursk 🇺🇦 ok');
  });
});

describe('appendEvent', () => {
  it('refuses data holding NUL or a lone surrogate with a programming error naming the path', async () => {
    const subject = { type: 'investigation' as const, id: randomUUID() };
    for (const [title, description] of [
      ['a\u0000b', null],
      ['ok', 'x\ud800'],
    ] as const) {
      const attempt = writeTransaction(ctx.pool, (tx) =>
        appendEvent(tx, {
          subject,
          type: 'investigation_created',
          actor: 'system:test',
          data: { title, description },
        }),
      );
      await expect(attempt).rejects.toBeInstanceOf(UnstorableEventError);
      await expect(attempt).rejects.toThrow(title === 'ok' ? 'data.description' : 'data.title');
    }
    const { rows } = await ctx.pool.query('SELECT 1 FROM ledger_events WHERE subject_id = $1', [subject.id]);
    expect(rows).toEqual([]);
  });
});
