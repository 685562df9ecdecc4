// Captures with BLOB_STORE=s3: a `claimtrail worker` process stores a fetched body in an
// S3-compatible server (s3rver on loopback), the API serves it back (whole, one range, its
// ETag and Repr-Digest) from there, and the bytes the server keeps hash to the blob's name.
// A captured image is described (metadata, PDQ, C2PA) from one download of its object, and an
// object that cannot be downloaded leaves each of the three its own failure, as on any store.
// Then the S3 server is killed mid-upload: the attempt fails with nothing recorded and nothing
// at the blob's key; once the server is back the retry stores the item once.
//
// A database of this file's own: the spawned worker runs the capture sweep at start, which
// would otherwise pick up other files' captures.
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { captureDeps } from '../../src/capture/capture-deps.ts';
import { describe as describeStored } from '../../src/capture/describe.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { spawnClaimtrail, waitForOutput } from '../helpers/cli.ts';
import { waitFor } from '../helpers/context.ts';
import { type Route, serveBytes, useFixtureServer } from '../helpers/fixture-server.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { listKeys, useS3Server } from '../helpers/s3-server.ts';
import { vector, vectorPath } from '../media/media-tools.ts';
import {
  captureJob,
  capturesOf,
  custody,
  ofType,
  ownBlobDir,
  settleSkippingBackoff,
  storedBlobs,
} from './support.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const MiB = 1 << 20;

const databaseUrl = await createIsolatedDatabase('s3capture');
const s3 = await useS3Server({ prefix: 'newsroom' });
const server = await useFixtureServer();
// Larger than one 8 MiB part: a multipart upload.
const video = randomBytes(12 * MiB + 5);
server.routes.set('/video.bin', serveBytes(video, 'application/octet-stream'));
// A PDQ reference picture as a JPEG: ffprobe/EXIF, PDQ and the C2PA reader all read it.
const photo = await sharp(readFileSync(vectorPath(vector('misc-images__c.png').file)))
  .jpeg()
  .toBuffer();
server.routes.set('/photo.jpg', serveBytes(photo, 'image/jpeg'));

// The first request sends 10 MiB (a part is on its way to S3), then waits for `resume`;
// later requests get the whole body at once.
const interrupted = randomBytes(12 * MiB + 7);
let halfSent!: () => void;
const sentHalf = new Promise<void>((resolve) => {
  halfSent = resolve;
});
let resume!: () => void;
const resumed = new Promise<void>((resolve) => {
  resume = resolve;
});
let interruptedRequests = 0;
const stallsOnce: Route = (_req, res) => {
  interruptedRequests++;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(interrupted.length),
  });
  if (interruptedRequests > 1) return void res.end(interrupted);
  res.write(interrupted.subarray(0, 10 * MiB), () => halfSent());
  void resumed.then(() => res.end(interrupted.subarray(10 * MiB)));
};
server.routes.set('/interrupted.bin', stallsOnce);

const blobDir = ownBlobDir('s3-capture');
const env = await useCaptureEnv(
  { DATABASE_URL: databaseUrl, FETCH_ALLOWLIST: server.host, BLOB_DIR: blobDir, ...s3.env },
  { workers: false },
);
const { app, as, editor, cite, settled } = env;

const children = new Set<ChildProcess>();
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await once(c, 'exit');
    }
  }
});

/** `claimtrail worker` in a process of its own, configured for the S3 store only. */
async function startWorker() {
  const worker = spawnClaimtrail(['worker'], {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_PREFIX: env.ctx.config.REDIS_PREFIX,
    BLOB_DIR: blobDir,
    FETCH_ALLOWLIST: server.host,
    LOG_SIGNING_KEY_FILE: env.ctx.config.LOG_SIGNING_KEY_FILE,
    LOG_LEVEL: 'info',
    ...s3.env,
  });
  children.add(worker.child);
  await waitForOutput(worker, '"workers started"');
  return worker;
}

const worker = await startWorker();
const store = env.ctx.blobs as S3BlobStore;

/** Temporary objects (`*.part`) left in the bucket. */
const temporaries = async () => {
  const names: string[] = [];
  for (const key of await listKeys(s3, 'newsroom/tmp/')) if (key.endsWith('.part')) names.push(key);
  return names;
};

describe('a capture with BLOB_STORE=s3', () => {
  it('the worker stores the body in the bucket; the API serves it, whole and by range', async () => {
    expect(store).toBeInstanceOf(S3BlobStore);
    const cited = await cite(`${server.origin}/video.bin`);
    const source = await settled(cited.source.id, 60_000);
    expect(source.status).toBe('captured');
    const [item] = source.evidence;
    expect(item).toMatchObject({ sha256: sha256(video), size: video.length });

    // What the S3 server keeps under the prefix's content address, byte for byte.
    const key = `newsroom/sha256/${item.sha256.slice(0, 2)}/${item.sha256.slice(2, 4)}/${item.sha256}`;
    expect(store.keyOf(item.sha256)).toBe(key);
    expect(sha256(readFileSync(s3.objectFile(key)))).toBe(item.sha256);
    // Nothing in the local directory but scratch space; no temporary left in the bucket.
    expect(storedBlobs(blobDir)).toEqual([]);
    expect(await temporaries()).toEqual([]);

    const whole = await getBytes(`/v1/evidence/${item.id}/content`, as(editor));
    expect(whole.status).toBe(200);
    expect(sha256(whole.body)).toBe(item.sha256);
    expect(whole.headers.etag).toBe(`"sha256-${item.sha256}"`);
    expect(whole.headers['repr-digest']).toBe(
      `sha-256=:${Buffer.from(item.sha256, 'hex').toString('base64')}:`,
    );

    const start = 8 * MiB - 3;
    const part = await getBytes(`/v1/evidence/${item.id}/content`, {
      ...as(editor),
      Range: `bytes=${start}-${start + 9}`,
    });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes ${start}-${start + 9}/${video.length}`);
    expect(Buffer.compare(part.body, video.subarray(start, start + 10))).toBe(0);

    const events = await custody(env, cited.source.id);
    expect(ofType(events, 'stored')).toHaveLength(1);

    // The capture shows in the latency gauges /metrics reads from Postgres.
    const metrics = (await request(app).get('/metrics')).text;
    expect(metrics).toMatch(
      /^claimtrail_capture_latency_seconds\{quantile="0\.95"\} \d+(\.\d+)?(e[-+]\d+)?$/m,
    );
    expect(metrics).toMatch(/^claimtrail_captures_completed_recent [1-9]\d*$/m);
  }, 90_000);

  it('describes a captured image from one download of its object', async () => {
    const before = s3.requests().length;
    const cited = await cite(`${server.origin}/photo.jpg`);
    const source = await settled(cited.source.id, 60_000);
    expect(source.status).toBe('captured');
    const item = await env.ctx.prisma.evidenceItem.findFirstOrThrow({ where: { sourceId: cited.source.id } });
    expect(item.sha256).toBe(sha256(photo));
    // All three readers ran, on that one copy.
    expect(item.metadata).toMatchObject({
      width: expect.any(Number),
      pdq: {
        algorithm: 'pdq',
        kind: 'image',
        frames: [{ second: 0, hash: expect.stringMatching(/^[0-9a-f]{64}$/) }],
      },
      c2pa: { state: 'absent' },
    });
    const key = store.keyOf(item.sha256);
    const downloads = s3
      .requests()
      .slice(before)
      .filter((r) => r.method === 'GET' && r.key === key);
    expect(downloads).toEqual([{ method: 'GET', key, range: null }]);
  }, 90_000);

  it('an object that cannot be downloaded: each reader records the failure, after one attempt', async () => {
    const missing = randomBytes(4096);
    const head = Buffer.concat([photo.subarray(0, 2048), missing.subarray(2048)]); // a JPEG's head
    const before = s3.requests().length;
    const item = await describeStored(await captureDeps(env.ctx), {
      sha256: sha256(missing),
      head,
      declaredType: 'image/jpeg',
    });
    expect(item).toMatchObject({ kind: 'image', mediaType: 'image/jpeg' });
    expect(item.hashes).toBeUndefined();
    const gone = expect.stringMatching(/^BlobNotFoundError: no blob /);
    expect(item.analysis).toEqual({
      tool: 'none',
      metadata: {
        error: gone,
        pdq: { algorithm: 'pdq', error: gone },
        c2pa: { tool: expect.stringMatching(/c2pa/), state: 'unread', error: gone },
        declaredType: { declared: 'image/jpeg', sniffed: 'image/jpeg', consistent: true },
      },
    });
    const key = store.keyOf(sha256(missing));
    expect(
      s3
        .requests()
        .slice(before)
        .filter((r) => r.key === key),
    ).toHaveLength(1);
  });

  it('the S3 server killed mid-upload: nothing recorded or stored; the retry stores it once', async () => {
    const cited = await cite(`${server.origin}/interrupted.bin`);
    const [capture] = await capturesOf(env, cited.source.id);
    const captureId = capture!.id;
    await sentHalf;
    await s3.kill();
    resume();

    // The attempt fails and the job waits for its retry.
    await waitFor(async () => (await captureJob(env, captureId)).state === 'delayed', 60_000, 100);
    const blob = sha256(interrupted);
    expect(existsSync(s3.objectFile(store.keyOf(blob)))).toBe(false);
    expect(await env.ctx.prisma.evidenceItem.count({ where: { sourceId: cited.source.id } })).toBe(0);
    expect(ofType(await custody(env, cited.source.id), 'stored')).toEqual([]);

    await s3.restart();
    await settleSkippingBackoff(env, captureId, 60_000);
    const source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    expect(source.evidence).toHaveLength(1);
    expect(source.evidence[0]).toMatchObject({ sha256: blob, size: interrupted.length });
    expect(sha256(readFileSync(s3.objectFile(store.keyOf(blob))))).toBe(blob);
    // (A retry may come round again before the server is back: one more failed attempt.)
    expect(interruptedRequests).toBeGreaterThanOrEqual(2);
    const events = await custody(env, cited.source.id);
    expect(ofType(events, 'stored')).toHaveLength(1);
    expect(ofType(events, 'fetch_started')).toHaveLength(interruptedRequests);
    expect(await temporaries()).toEqual([]);
    expect(worker.child.exitCode).toBeNull();
  }, 120_000);
});

/** GET with the body as one Buffer. */
function getBytes(path: string, headers: Record<string, string>) {
  return request(app)
    .get(path)
    .set(headers)
    .buffer(true)
    .parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
}
