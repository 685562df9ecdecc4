// A worker process killed with SIGKILL in the middle of a download: BullMQ finds the job
// stalled once the dead worker's lock expires, another worker runs it again, and the capture
// ends exactly as if nothing had happened: one `stored`, the right hash, no partial file.
// Then a retry racing a run that is still alive (a stalled worker that did not die): the
// stored bytes still match their hash.
//
// A database of this file's own: the spawned worker runs the capture sweep at start, which
// would otherwise pick up other files' captures. The dead worker's lock lives for BullMQ's
// default lockDuration (30 s, the CLI worker has no setting for it), so the first test takes
// 20–40 s by design.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { captureDeps } from '../../src/capture/capture-deps.ts';
import { requestCapture } from '../../src/capture/capture-request.ts';
import { runCapture } from '../../src/capture/run-capture.ts';
import { writeStatement } from '../../src/db/unit-of-work.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import { inTurn, serveText, trickle, useFixtureServer } from '../helpers/fixture-server.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { spawnWorker, standbyWorkers } from '../helpers/worker-process.ts';
import { captureJob, capturesOf, custody, ofType, ownBlobDir, partialFiles } from './support.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const databaseUrl = await createIsolatedDatabase('capcrash');
const server = await useFixtureServer();
const big = randomBytes(3 * 1024 * 1024);
const slow = trickle(big, 64 * 1024, 40); // ~2 s per download
server.routes.set('/big.bin', slow);
const a = Buffer.alloc(2 * 1024 * 1024, 0x61);
const b = Buffer.alloc(2 * 1024 * 1024, 0x62);
const first = trickle(a, 64 * 1024, 20);
const second = trickle(b, 64 * 1024, 20);
server.routes.set('/changing.bin', inTurn(serveText('before', 'text/plain'), first, second));

const blobDir = ownBlobDir('crash');
const env = await useCaptureEnv(
  { DATABASE_URL: databaseUrl, FETCH_ALLOWLIST: server.host, BLOB_DIR: blobDir },
  { workers: false },
);
const { app, as, editor, cite, settled } = env;

const standby = standbyWorkers(env.ctx);

/** Every stored blob's bytes hash to its name. */
function expectBlobsIntact() {
  const files = readdirSync(join(blobDir, 'sha256'), { recursive: true, withFileTypes: true }).filter((d) =>
    d.isFile(),
  );
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) {
    expect(sha256(readFileSync(join(f.parentPath, f.name))), `bytes of blob ${f.name}`).toBe(f.name);
  }
}

describe('a worker killed mid-download', () => {
  it('SIGKILL while the body streams in: the stalled job runs again elsewhere and completes once', async () => {
    // A spawned worker's default BROWSER_PATH and YTDLP_PATH: the file is no page, no step runs.
    const worker = spawnWorker(env.ctx.config);
    await worker.started();

    const cited = await cite(`${server.origin}/big.bin`);
    const [capture] = await capturesOf(env, cited.source.id);
    const captureId = capture!.id;
    // Kill once the worker has written part of the body to its partial file.
    const partial = await waitFor(
      async () => {
        const [name] = partialFiles(blobDir, captureId);
        const size = name ? (statSync(join(blobDir, 'tmp', name), { throwIfNoEntry: false })?.size ?? 0) : 0;
        return size >= 256 * 1024 ? name : undefined;
      },
      30_000,
      5,
    );
    worker.child.kill('SIGKILL');
    expect(await worker.exited).toEqual([null, 'SIGKILL']);

    // What the kill left: a running capture, a partial file, a job still `active` under the
    // dead worker's lock, nothing stored.
    expect(statSync(join(blobDir, 'tmp', partial!)).size).toBeLessThan(big.length);
    expect(await env.ctx.prisma.capture.findUniqueOrThrow({ where: { id: captureId } })).toMatchObject({
      status: 'running',
      attempts: 1,
    });
    expect((await captureJob(env, captureId)).state).toBe('active');
    expect(ofType(await custody(env, cited.source.id), 'stored')).toEqual([]);
    const requestsBefore = server.hits.get('/big.bin');
    expect(requestsBefore).toBe(1);

    // Another worker, checking for stalled jobs every second.
    await standby.start();
    const source = await settled(cited.source.id, 90_000);

    expect(source.status).toBe('captured');
    expect(source.failure).toBeNull();
    expect(source.evidence).toHaveLength(1);
    expect(source.evidence[0]).toMatchObject({ sha256: sha256(big), size: big.length });
    expect(server.hits.get('/big.bin')).toBe(2);

    const events = await custody(env, cited.source.id);
    expect(events.map((e) => e.type)).toEqual([
      'source_cited',
      'capture_requested',
      'fetch_started',
      'fetch_started',
      'fetched',
      'stored',
      'metadata_extracted',
      'capture_completed',
    ]);
    const [killed, retried] = ofType(events, 'fetch_started');
    expect(killed!.actor).toMatch(new RegExp(`:${worker.child.pid}$`));
    expect(retried!.actor).toMatch(new RegExp(`:${process.pid}$`));
    expect(ofType(events, 'stored')[0]!.data).toMatchObject({
      captureId,
      sha256: sha256(big),
      size: big.length,
    });

    expect(await env.ctx.prisma.capture.findUniqueOrThrow({ where: { id: captureId } })).toMatchObject({
      status: 'completed',
      attempts: 2,
      failure: null,
    });
    const { job, state } = await captureJob(env, captureId);
    expect(state).toBe('completed');
    expect(job.stalledCounter).toBe(1);
    expect(partialFiles(blobDir)).toEqual([]);
    expectBlobsIntact();

    const verify = await request(app).get(`/v1/sources/${cited.source.id}/custody/verify`).set(as(editor));
    expect(verify.body).toMatchObject({ valid: true, length: events.length });
  }, 150_000);
});

describe('a retry racing a run that is still alive', () => {
  it('two runs of one capture fetching different bytes: the stored blob matches its hash, one item', async () => {
    const cited = await cite(`${server.origin}/changing.bin`);
    const initial = await settled(cited.source.id);
    expect(initial.evidence.map((e: { sha256: string }) => e.sha256)).toEqual([sha256('before')]);

    // A capture whose job a stalled worker still runs while the retry starts: two runs at once.
    const captureId = await writeStatement(env.ctx.pool, (tx) =>
      requestCapture(tx, null, {
        sourceId: cited.source.id,
        reason: 'manual',
        requestedBy: editor.id,
        actor: 'system:test',
      }),
    );
    const deps = await captureDeps(env.ctx);
    const stalled = runCapture(deps, captureId, { number: 1, max: 5 }).then(
      (r) => r,
      (err: Error) => err,
    );
    await waitFor(async () => first.sent() >= 256 * 1024, 15_000, 5);
    const retry = runCapture(deps, captureId, { number: 2, max: 5 }).then(
      (r) => r,
      (err: Error) => err,
    );
    const outcomes = await Promise.all([stalled, retry]);
    expect(outcomes.filter((o) => !(o instanceof Error))).toEqual([{ status: 'completed', steps: 1 }]);

    expectBlobsIntact();
    expect(partialFiles(blobDir)).toEqual([]);
    const source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    expect(source.evidence).toHaveLength(2);
    const item = source.evidence[1];
    expect([sha256(a), sha256(b)]).toContain(item.sha256);
    const content = await request(app)
      .get(`/v1/evidence/${item.id}/content`)
      .set(as(editor))
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(content.status).toBe(200);
    expect(sha256(content.body)).toBe(item.sha256);

    const events = ofType(await custody(env, cited.source.id), 'stored');
    expect(events.map((e) => e.data.sha256)).toEqual([sha256('before'), item.sha256]);
  }, 60_000);
});
