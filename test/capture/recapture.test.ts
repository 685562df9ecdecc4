// Capturing a source again: changed content is a second item and `content_changed`; content
// that is gone (404/410) is `source_gone` while what was preserved stays readable; the sweep
// requests recaptures that are due and re-enqueues captures whose enqueue was lost.
//
// A database of this file's own: sweepCaptures looks at every source and capture in the
// database, and other files' captures must not be swept into this file's queue (nor this
// file's into theirs). The periodic sweep is set to once a day so that only the sweeps this
// file calls run (BullMQ runs a scheduler's first iteration at once, on an empty database).
import { createHash } from 'node:crypto';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { requestCapture } from '../../src/capture/capture-request.ts';
import { sweepCaptures } from '../../src/capture/sweep.ts';
import { writeStatement } from '../../src/db/unit-of-work.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import type { Route } from '../helpers/fixture-server.ts';
import { useFixtureServer } from '../helpers/fixture-server.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { capturesOf, custody, ofType, ownBlobDir, partialFiles } from './support.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A page whose answer the test changes: a body (text/plain), or a status with no page. */
function mutable(initial: string) {
  const state: { body: string; status: number } = { body: initial, status: 200 };
  const route: Route = (_req, res) => {
    if (state.status !== 200) {
      res.writeHead(state.status, { 'content-type': 'text/plain' }).end('gone');
      return;
    }
    res
      .writeHead(200, {
        'content-type': 'text/plain',
        'content-length': String(Buffer.byteLength(state.body)),
      })
      .end(state.body);
  };
  return { state, route };
}

const databaseUrl = await createIsolatedDatabase('recapture');
const server = await useFixtureServer();
const statement = mutable('Statement, first version.');
server.routes.set('/statement', statement.route);
const scheduled = mutable('A page recaptured on schedule.');
server.routes.set('/scheduled', scheduled.route);
const lost = mutable('A page whose capture job was lost.');
server.routes.set('/lost', lost.route);

const blobDir = ownBlobDir('recapture');
const env = await useCaptureEnv({
  DATABASE_URL: databaseUrl,
  FETCH_ALLOWLIST: server.host,
  BLOB_DIR: blobDir,
  CAPTURE_SWEEP_INTERVAL_MS: String(24 * 3600 * 1000),
});
const { app, as, editor, viewer, cite, settled } = env;

async function captureAgain(sourceId: string, body: object = {}) {
  const res = await request(app).post(`/v1/sources/${sourceId}/captures`).set(as(editor)).send(body);
  expect(res.status, res.text).toBe(202);
  return res.body.captureId as string;
}

async function contentOf(evidenceId: string) {
  return request(app)
    .get(`/v1/evidence/${evidenceId}/content`)
    .set(as(viewer))
    .buffer(true)
    .parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
}

describe('content that changes, then disappears', () => {
  let sourceId: string;
  const v1 = 'Statement, first version.';
  const v2 = 'Statement, quietly edited.';

  it('a changed page is a second item and `content_changed` with both hashes', async () => {
    sourceId = (await cite(`${server.origin}/statement`)).source.id;
    const before = await settled(sourceId);
    expect(before.status).toBe('captured');
    expect(before.evidence.map((e: { sha256: string }) => e.sha256)).toEqual([sha256(v1)]);

    statement.state.body = v2;
    const captureId = await captureAgain(sourceId);
    const after = await settled(sourceId);
    expect(after.status).toBe('captured');
    expect(after.failure).toBeNull();
    expect(after.evidence.map((e: { sha256: string }) => e.sha256)).toEqual([sha256(v1), sha256(v2)]);
    expect(after.evidence[1].captureId).toBe(captureId);

    const events = await custody(env, sourceId);
    expect(ofType(events, 'content_changed').map((e) => e.data)).toEqual([
      { captureId, previousSha256: sha256(v1), sha256: sha256(v2) },
    ]);
    expect(ofType(events, 'stored')).toHaveLength(2);
  });

  it('unchanged content on the next capture: no content_changed, no new item', async () => {
    await captureAgain(sourceId);
    const same = await settled(sourceId);
    expect(same.evidence).toHaveLength(2);
    const events = await custody(env, sourceId);
    expect(ofType(events, 'content_changed')).toHaveLength(1);
    expect(ofType(events, 'stored')).toHaveLength(2);
  });

  for (const status of [410, 404]) {
    it(`the page answers ${status}: source_gone and capture_failed; the source stays captured, its evidence readable`, async () => {
      statement.state.status = status;
      const captureId = await captureAgain(sourceId);
      const source = await settled(sourceId);
      expect(source.status).toBe('captured');
      expect(source.failure).toEqual({
        code: `http_${status}`,
        detail: `HTTP ${status} from ${server.origin}/statement`,
      });
      expect(source.evidence).toHaveLength(2);

      const events = await custody(env, sourceId);
      const tail = events.slice(-3);
      expect(tail.map((e) => e.type)).toEqual(['fetch_started', 'source_gone', 'capture_failed']);
      expect(tail[1]!.data).toEqual({ captureId, status, url: `${server.origin}/statement` });
      expect(tail[2]!.data).toMatchObject({ captureId, code: `http_${status}`, retryable: false });
      const row = await env.ctx.prisma.capture.findUniqueOrThrow({ where: { id: captureId } });
      expect(row).toMatchObject({ status: 'failed', attempts: 1 });
      expect(partialFiles(blobDir, captureId)).toEqual([]);

      // What was preserved is still there, byte for byte.
      for (const [item, text] of [
        [source.evidence[0], v1],
        [source.evidence[1], v2],
      ] as const) {
        const res = await contentOf(item.id);
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe(text);
      }
    });
  }

  it('back again: captured, the failure cleared, content_changed against the last completed capture', async () => {
    Object.assign(statement.state, { status: 200, body: 'Statement, restored.' });
    const captureId = await captureAgain(sourceId);
    const source = await settled(sourceId);
    expect(source.status).toBe('captured');
    expect(source.failure).toBeNull();
    expect(source.evidence).toHaveLength(3);
    const changed = ofType(await custody(env, sourceId), 'content_changed');
    expect(changed.at(-1)!.data).toEqual({
      captureId,
      previousSha256: sha256(v2),
      sha256: sha256('Statement, restored.'),
    });
    const verify = await request(app).get(`/v1/sources/${sourceId}/custody/verify`).set(as(viewer));
    expect(verify.body).toMatchObject({ valid: true });
  });
});

describe('the capture sweep', () => {
  it('requests a recapture that is due (recaptureEverySeconds), which runs; a source not due is left alone', async () => {
    const sourceId = (await cite(`${server.origin}/scheduled`)).source.id;
    await settled(sourceId);
    // Setting the interval through the API captures once more, now.
    await captureAgain(sourceId, { recaptureEverySeconds: 60 });
    const source = await settled(sourceId);
    expect(source.recaptureEverySeconds).toBe(60);
    expect(await capturesOf(env, sourceId)).toHaveLength(2);

    // Nothing is due yet.
    expect(await sweepCaptures(env.ctx)).toMatchObject({ requeued: 0, scheduled: 0 });

    await env.ctx.pool.query(
      `UPDATE captures SET requested_at = requested_at - interval '2 minutes' WHERE source_id = $1`,
      [sourceId],
    );
    scheduled.state.body = 'A page recaptured on schedule, and changed.';
    expect(await sweepCaptures(env.ctx)).toMatchObject({ requeued: 0, scheduled: 1 });
    const after = await settled(sourceId);
    const captures = await capturesOf(env, sourceId);
    expect(captures.map((c) => [c.reason, c.status])).toEqual([
      ['cited', 'completed'],
      ['manual', 'completed'],
      ['scheduled', 'completed'],
    ]);
    expect(captures[2]!.requestedBy).toBeNull();
    expect(after.evidence).toHaveLength(2);
    const events = await custody(env, sourceId);
    const requested = ofType(events, 'capture_requested').at(-1)!;
    expect(requested).toMatchObject({
      actor: 'system:recapture',
      data: { captureId: captures[2]!.id, reason: 'scheduled' },
    });
    expect(ofType(events, 'content_changed')).toHaveLength(1);

    // Just captured: not due again.
    expect(await sweepCaptures(env.ctx)).toMatchObject({ scheduled: 0 });
  });

  it('two sweeps at once request one recapture of a due source, not two', async () => {
    const sourceId = (await cite(`${server.origin}/scheduled`)).source.id;
    await settled(sourceId);
    await captureAgain(sourceId, { recaptureEverySeconds: 60 });
    await settled(sourceId);
    const before = (await capturesOf(env, sourceId)).length;
    await env.ctx.pool.query(
      `UPDATE captures SET requested_at = requested_at - interval '2 minutes' WHERE source_id = $1`,
      [sourceId],
    );
    const runs = await Promise.all([sweepCaptures(env.ctx), sweepCaptures(env.ctx), sweepCaptures(env.ctx)]);
    expect(runs.reduce((n, r) => n + r.scheduled, 0)).toBe(1);
    await settled(sourceId);
    const captures = await capturesOf(env, sourceId);
    expect(captures).toHaveLength(before + 1);
    expect(captures.at(-1)?.reason).toBe('scheduled');
  });

  it('re-enqueues a capture left `queued` without a job (a lost enqueue), which then completes', async () => {
    const sourceId = (await cite(`${server.origin}/lost`)).source.id;
    await settled(sourceId);
    lost.state.body = 'A page whose capture job was lost, captured by the sweep.';
    // The API's path without the enqueue after commit (as if the process died right there).
    const captureId = await writeStatement(env.ctx.pool, (tx) =>
      requestCapture(tx, null, {
        sourceId,
        reason: 'manual',
        requestedBy: editor.id,
        actor: `user:${editor.id}`,
      }),
    );
    // Younger than 30 s: the sweep leaves it (its enqueue may still be on its way).
    expect(await sweepCaptures(env.ctx)).toMatchObject({ requeued: 0 });
    expect(await env.ctx.prisma.capture.findUniqueOrThrow({ where: { id: captureId } })).toMatchObject({
      status: 'queued',
      attempts: 0,
    });

    await env.ctx.pool.query(
      `UPDATE captures SET requested_at = requested_at - interval '1 minute' WHERE id = $1`,
      [captureId],
    );
    expect(await sweepCaptures(env.ctx)).toMatchObject({ requeued: 1, scheduled: 0 });
    const source = await settled(sourceId);
    expect(await env.ctx.prisma.capture.findUniqueOrThrow({ where: { id: captureId } })).toMatchObject({
      status: 'completed',
      attempts: 1,
    });
    expect(source.evidence.map((e: { sha256: string }) => e.sha256)).toEqual([
      sha256('A page whose capture job was lost.'),
      sha256('A page whose capture job was lost, captured by the sweep.'),
    ]);
    expect(source.evidence[1].captureId).toBe(captureId);
    // Its job exists now (completed): another sweep does not add a second one.
    expect(await sweepCaptures(env.ctx)).toMatchObject({ requeued: 0 });
  });

  it('removes partial files of writers that died long ago, and only those', async () => {
    const tmp = join(blobDir, 'tmp');
    const old = join(tmp, '00000000-0000-7000-8000-000000000000-0.11111111-1111-4111-8111-111111111111.part');
    const fresh = join(
      tmp,
      '00000000-0000-7000-8000-000000000001-0.22222222-2222-4222-8222-222222222222.part',
    );
    writeFileSync(old, 'partial');
    writeFileSync(fresh, 'partial');
    // Older than twice FETCH_TIMEOUT_MS (no live download is that old).
    const past = new Date(Date.now() - 2 * env.ctx.config.FETCH_TIMEOUT_MS - 60_000);
    utimesSync(old, past, past);
    const result = await sweepCaptures(env.ctx);
    expect(result.tmpRemoved).toBe(1);
    expect(partialFiles(blobDir)).toEqual([fresh.split('/').at(-1)]);
  });
});
