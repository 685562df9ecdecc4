// Idempotency-Key on POST: a retry replays the first response and creates nothing; another
// body under the same key is a 422; two identical requests racing create one row and one event.
// Secrets are withheld from stored responses; records expire; a key whose request died is
// released (at once in-process, after its lease when the process crashed).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Router } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { authenticate } from '../../src/http/authenticate.ts';
import { type IdempotencyOptions, idempotency } from '../../src/http/idempotency.ts';
import { ApiDocs } from '../../src/http/openapi.ts';
import { errorHandler } from '../../src/http/problem.ts';
import { jsonBody } from '../../src/http/request-context.ts';
import { journalismRouter } from '../../src/http/routes/journalism.router.ts';
import { usersRouter } from '../../src/http/routes/users.router.ts';
import { canonicalJson, sha256Hex } from '../../src/ledger/canonical.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext, waitFor } from '../helpers/context.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const editor = await createUser(ctx, { name: 'Editor', role: 'editor' }, 'system:test');
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

const admin = await createUser(ctx, { name: 'Admin', role: 'admin' }, 'system:test');
const asAdmin = { Authorization: `Bearer ${admin.token}` };
const claimsUrl = `/v1/investigations/${inv.id}/claims`;
const keyRow = async (userId: string, key: string) =>
  (
    await ctx.pool.query<{ status: number | null; response_body: string | null }>(
      'SELECT status, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2',
      [userId, key],
    )
  ).rows[0];
/** A row as a process that crashed mid-request leaves it: no response, lease `lease` from now. */
const inFlightRow = (userId: string, key: string, url: string, body: unknown, lease: string) =>
  ctx.pool.query(
    `INSERT INTO idempotency_keys (user_id, key, request_hash, locked_by, locked_until, created_at)
     VALUES ($1, $2, $3, gen_random_uuid(), now() + $4::interval, now() - interval '2 minutes')`,
    [userId, key, sha256Hex(`POST ${url}\n${canonicalJson(body)}`), lease],
  );

describe('Idempotency-Key: no secret in stored responses', () => {
  it('a replayed user creation withholds the token, and the stored row never held it', async () => {
    const post = () =>
      request(app).post('/v1/users').set(asAdmin).set('Idempotency-Key', 'user-1').send({
        name: 'Replayed',
        role: 'viewer',
      });
    const first = await post();
    expect(first.status).toBe(201);
    expect(first.body.token).toMatch(/^ct_/);
    expect(first.body).not.toHaveProperty('tokenWithheld');
    const stored = (await waitFor(async () => {
      const row = await keyRow(admin.id, 'user-1');
      return row?.status ? row : undefined;
    }))!;
    expect(stored.response_body).not.toContain(first.body.token);
    expect(JSON.parse(stored.response_body ?? '')).toEqual({
      ...first.body,
      token: null,
      tokenWithheld: true,
    });

    const second = await post();
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual({ ...first.body, token: null, tokenWithheld: true });
    expect(JSON.stringify(second.body)).not.toContain(first.body.token);
    const users = await ctx.pool.query("SELECT 1 FROM users WHERE name = 'Replayed'");
    expect(users.rowCount).toBe(1);
  });

  it('the migration withholds tokens that older versions stored, and only real token members', async () => {
    const live = `ct_${'A'.repeat(43)}`;
    const oldBody = JSON.stringify({ id: admin.id, name: 'Old', role: 'viewer', token: live });
    // A name that spells a token member inside a string: JSON escapes its quotes, so it stays.
    const lookalike = JSON.stringify({ id: admin.id, name: `"token":"${live}"`, role: 'viewer' });
    for (const [key, body] of [
      ['old-user', oldBody],
      ['old-lookalike', lookalike],
    ]) {
      await ctx.pool.query(
        `INSERT INTO idempotency_keys (user_id, key, request_hash, status, response_body)
         VALUES ($1, $2, $3, 201, $4)`,
        [admin.id, key, sha256Hex(`POST /v1/users\n${key}`), body],
      );
    }
    const migration = readFileSync(
      new URL('../../prisma/migrations/20261202000400_idempotency_expiry/migration.sql', import.meta.url),
      'utf8',
    );
    const scrub = migration
      .split(';')
      .map((sql) => sql.replace(/^\s*(--[^\n]*\n\s*)*/, ''))
      .filter((sql) => sql.startsWith('UPDATE') && sql.includes('regexp_replace'));
    expect(scrub).toHaveLength(1);
    await ctx.pool.query(scrub[0]!);
    const scrubbed = JSON.parse((await keyRow(admin.id, 'old-user'))!.response_body!);
    expect(scrubbed).toEqual({ id: admin.id, name: 'Old', role: 'viewer', token: null, tokenWithheld: true });
    expect((await keyRow(admin.id, 'old-lookalike'))!.response_body).toBe(lookalike);
  });
});

describe('Idempotency-Key: records expire', () => {
  it('an expired record neither replays nor blocks: the request runs again and creates a new claim', async () => {
    const post = (body: object) =>
      request(app).post(claimsUrl).set(as).set('Idempotency-Key', 'ttl-1').send(body);
    const first = await post(claimBody);
    expect(first.status).toBe(201);
    await waitFor(async () => (await keyRow(editor.id, 'ttl-1'))?.status);
    const before = await countClaims();
    // IDEMPOTENCY_TTL_SECONDS is 24 h: age the record past it.
    await ctx.pool.query(
      "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1 AND key = 'ttl-1'",
      [editor.id],
    );
    const again = await post(claimBody);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.id).not.toBe(first.body.id);
    expect(await countClaims()).toBe(before + 1);
    // The new record is live again: a retry now replays it.
    await waitFor(async () => (await keyRow(editor.id, 'ttl-1'))?.status);
    expect((await post(claimBody)).body.id).toBe(again.body.id);
  });

  it('expired rows are deleted by the middleware, live ones are kept', async () => {
    const fresh = createApp(ctx).app; // its own once-a-minute sweep clock
    const insert = (key: string, age: string) =>
      ctx.pool.query(
        `INSERT INTO idempotency_keys (user_id, key, request_hash, status, response_body, created_at)
         VALUES ($1, $2, $3, 201, '{}', now() - $4::interval)`,
        [admin.id, key, 'x'.repeat(64), age],
      );
    await insert('sweep-old', '2 days');
    await insert('sweep-young', '1 hour');
    const r = await request(fresh)
      .post(claimsUrl)
      .set(as)
      .set('Idempotency-Key', 'sweep-trigger')
      .send(claimBody);
    expect(r.status).toBe(201);
    await waitFor(async () => (await keyRow(admin.id, 'sweep-old')) === undefined, 5_000);
    expect(await keyRow(admin.id, 'sweep-young')).toBeDefined();
  });
});

describe('Idempotency-Key: keys of requests that died', () => {
  it('a row left in flight by a crashed process (lease passed) is taken over: the retry succeeds', async () => {
    const before = await countClaims();
    await inFlightRow(editor.id, 'crashed-1', claimsUrl, claimBody, '-1 second');
    const r = await request(app).post(claimsUrl).set(as).set('Idempotency-Key', 'crashed-1').send(claimBody);
    expect(r.status).toBe(201);
    expect(await countClaims()).toBe(before + 1);
  });

  it('racing retries of a crashed key take it over once: one claim, one ledger event', async () => {
    const before = await countClaims();
    await inFlightRow(editor.id, 'crashed-2', claimsUrl, claimBody, '-1 second');
    const post = () =>
      request(app).post(claimsUrl).set(as).set('Idempotency-Key', 'crashed-2').send(claimBody);
    const results = await Promise.all([post(), post(), post(), post()]);
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(await countClaims()).toBe(before + 1);
    expect(await claimEvents([...ids][0])).toBe(1);
  });

  it('a row an older version left in flight (no lease) holds its key for a minute from its creation', async () => {
    const shortWait = testApp({ waitMs: 200 });
    const legacyRow = (key: string, age: string) =>
      ctx.pool.query(
        `INSERT INTO idempotency_keys (user_id, key, request_hash, created_at)
         VALUES ($1, $2, $3, now() - $4::interval)`,
        [editor.id, key, sha256Hex(`POST ${claimsUrl}\n${canonicalJson(claimBody)}`), age],
      );
    await legacyRow('legacy-old', '2 minutes');
    await legacyRow('legacy-new', '1 second');
    const post = (key: string) =>
      request(shortWait).post(claimsUrl).set(as).set('Idempotency-Key', key).send(claimBody);
    expect((await post('legacy-old')).status).toBe(201);
    expect((await post('legacy-new')).status).toBe(409);
  });

  it('a row whose lease is still running answers 409 once the wait is over', async () => {
    const shortWait = testApp({ waitMs: 200 });
    const before = await countClaims();
    await inFlightRow(editor.id, 'busy-1', claimsUrl, claimBody, '1 hour');
    const r = await request(shortWait)
      .post(claimsUrl)
      .set(as)
      .set('Idempotency-Key', 'busy-1')
      .send(claimBody);
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/still in progress/);
    expect(await countClaims()).toBe(before);
  });

  it('a client that aborts does not lock the key: the finished response is what the retry gets', async () => {
    const gated = gatedRoute();
    const { url, close } = await listen(testApp({}, gated.router));
    try {
      await abortedPost(url, 'abort-ok', gated);
      gated.open('ok');
      await waitFor(async () => (await keyRow(editor.id, 'abort-ok'))?.status);
      const retry = await request(url).post('/v1/gated').set(as).set('Idempotency-Key', 'abort-ok').send({});
      expect(retry.status).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.body).toEqual({ run: 1 });
      expect(gated.runs()).toBe(1);
    } finally {
      await close();
    }
  });

  it('a handler that throws after the client aborted releases the key at once', async () => {
    const gated = gatedRoute();
    const { url, close } = await listen(testApp({}, gated.router));
    try {
      await abortedPost(url, 'abort-throw', gated);
      gated.open('throw');
      await waitFor(async () => (await keyRow(editor.id, 'abort-throw')) === undefined, 5_000);
      const retry = await request(url)
        .post('/v1/gated')
        .set(as)
        .set('Idempotency-Key', 'abort-throw')
        .send({});
      expect(retry.status).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBeUndefined();
      expect(retry.body).toEqual({ run: 2 });
    } finally {
      await close();
    }
  });
});

/** The API's own pieces (body parser, auth, idempotency with `options`, routes, errors). */
function testApp(options: IdempotencyOptions, extra?: Router) {
  const a = express();
  a.use(
    '/v1',
    jsonBody(ctx.config.BODY_LIMIT_BYTES),
    authenticate(ctx.pool, ctx.authCache),
    idempotency(ctx, options),
  );
  if (extra) a.use('/v1', extra);
  const docs = new ApiDocs();
  a.use('/v1', usersRouter(ctx, docs), journalismRouter(ctx, docs));
  a.use(errorHandler);
  return a;
}

/** POST /gated: counts its runs; the first waits until the test opens it to answer or throw. */
function gatedRoute() {
  let runs = 0;
  let entered: () => void = () => {};
  let clientGone: () => void = () => {};
  let release: (how: 'ok' | 'throw') => void = () => {};
  const router = Router();
  const state = {
    entered: new Promise<void>((r) => {
      entered = r;
    }),
    clientGone: new Promise<void>((r) => {
      clientGone = r;
    }),
  };
  router.post('/gated', async (_req, res) => {
    runs += 1;
    const run = runs;
    if (run > 1) return void res.status(201).json({ run });
    res.on('close', () => clientGone());
    const how = await new Promise<'ok' | 'throw'>((r) => {
      release = r;
      entered();
    });
    if (how === 'throw') throw new Error('handler failed after the client left');
    res.status(201).json({ run });
  });
  return {
    router,
    state,
    runs: () => runs,
    open: (how: 'ok' | 'throw') => release(how),
  };
}

/** Sends POST /gated with a key, and drops the connection once the handler is running. */
async function abortedPost(url: string, key: string, gated: ReturnType<typeof gatedRoute>) {
  const req = http.request(`${url}/v1/gated`, {
    method: 'POST',
    headers: { ...as, 'Idempotency-Key': key, 'Content-Type': 'application/json' },
  });
  req.on('error', () => {}); // the abort itself
  req.end('{}');
  await gated.state.entered;
  req.destroy();
  await gated.state.clientGone;
}

async function listen(handler: express.Express) {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
