// A journalist's own copy: POST /v1/sources/:id/evidence, multipart with one part `file`,
// streamed into the blob store, described with the real ffprobe and checked against what
// the citation declared. The post it came from answers 404 (deleted), which is exactly when
// an own copy matters. Refusals write nothing: no row, no blob, no partial file.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { status, useFixtureServer } from '../helpers/fixture-server.ts';
import { c2paAbsent, custody, ofType, ownBlobDir, partialFiles, storedBlobs } from './support.ts';

const media = (name: string) => new URL(`../fixtures/media/${name}`, import.meta.url).pathname;
const video = readFileSync(media('zelenskyy-31s.mp4'));
const videoSha = createHash('sha256').update(video).digest('hex');
const UPLOAD_MAX = 64 * 1024; // the 31 s fixture is ~38 KiB

const server = await useFixtureServer({ '/deleted-post': status(404) });
const blobDir = ownBlobDir('upload');
const env = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  BLOB_DIR: blobDir,
  UPLOAD_MAX_BYTES: String(UPLOAD_MAX),
});
const { app, as, editor, viewer, outsider, cite, settled } = env;

let sourceId: string;
beforeAll(async () => {
  sourceId = (await cite(`${server.origin}/deleted-post`, { durationSeconds: 31, mediaType: 'video' })).source
    .id;
  const source = await settled(sourceId);
  expect(source.status).toBe('failed');
});

const upload = (user: { token: string }, id = sourceId) =>
  request(app).post(`/v1/sources/${id}/evidence`).set(as(user));

/** Nothing of a refused upload may remain: no row, no event, no blob, no partial file. */
async function expectNothingWritten(before: { items: number; events: number; blobs: number }) {
  expect(await env.ctx.prisma.evidenceItem.count({ where: { sourceId } })).toBe(before.items);
  expect((await custody(env, sourceId)).length).toBe(before.events);
  expect(storedBlobs(blobDir).length).toBe(before.blobs);
  expect(partialFiles(blobDir)).toEqual([]);
}

async function snapshot() {
  return {
    items: await env.ctx.prisma.evidenceItem.count({ where: { sourceId } }),
    events: (await custody(env, sourceId)).length,
    blobs: storedBlobs(blobDir).length,
  };
}

function expectProblem(res: request.Response, statusCode: number) {
  expect(res.status, res.text).toBe(statusCode);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status: statusCode, type: expect.any(String), title: expect.any(String) });
}

describe('uploading an own copy', () => {
  let itemId: string;

  it('201: an upload item with an independent hash, probed metadata and passed checks', async () => {
    const res = await upload(editor).attach('file', video, {
      filename: 'clip.mp4',
      contentType: 'video/mp4',
    });
    expect(res.status, res.text).toBe(201);
    itemId = res.body.id;
    expect(res.body).toMatchObject({
      sourceId,
      kind: 'upload',
      mediaType: 'video/mp4',
      size: video.length,
      sha256: videoSha,
      captureId: null,
      originUrl: null,
    });
    expect(Math.abs(res.body.metadata.durationSeconds - 31)).toBeLessThanOrEqual(0.5);
    expect(res.body.metadata.filename).toBe('clip.mp4');
    expect(res.body.checks).toEqual([
      c2paAbsent,
      { name: 'durationSeconds', expected: 31, observed: res.body.metadata.durationSeconds, passed: true },
      { name: 'mediaType', expected: 'video', observed: 'video', passed: true },
    ]);

    const events = await custody(env, sourceId);
    const tail = events.slice(-6);
    expect(tail.map((e) => [e.type, e.actor])).toEqual([
      ['stored', `user:${editor.id}`],
      ['metadata_extracted', `user:${editor.id}`],
      ['check_passed', `user:${editor.id}`],
      ['check_passed', `user:${editor.id}`],
      ['check_passed', `user:${editor.id}`],
      ['checks_updated', `user:${editor.id}`],
    ]);
    expect(tail[0]!.data).toMatchObject({
      evidenceId: itemId,
      kind: 'upload',
      sha256: videoSha,
      size: video.length,
      captureId: null,
    });

    // The bytes served back are the bytes uploaded.
    const content = await request(app)
      .get(`/v1/evidence/${itemId}/content`)
      .set(as(viewer))
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(Buffer.compare(content.body, video)).toBe(0);
    expect(partialFiles(blobDir)).toEqual([]);
  });

  it('the same bytes again: 200 with the same item, no new event', async () => {
    const before = await snapshot();
    const res = await upload(editor).attach('file', video, {
      filename: 'again.mp4',
      contentType: 'video/mp4',
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.id).toBe(itemId);
    await expectNothingWritten(before);
    expect(ofType(await custody(env, sourceId), 'stored')).toHaveLength(1);
  });

  it('larger than UPLOAD_MAX_BYTES: 413 and nothing written', async () => {
    const before = await snapshot();
    const big = Buffer.alloc(4 * UPLOAD_MAX, 1);
    const res = await upload(editor).attach('file', big, {
      filename: 'big.bin',
      contentType: 'application/octet-stream',
    });
    expectProblem(res, 413);
    await expectNothingWritten(before);
    // One byte over is over, exactly the limit is not.
    const over = await upload(editor).attach('file', Buffer.alloc(UPLOAD_MAX + 1, 2), 'over.bin');
    expectProblem(over, 413);
    await expectNothingWritten(before);
    const atLimit = await upload(editor).attach('file', Buffer.alloc(UPLOAD_MAX, 3), 'limit.bin');
    expect(atLimit.status, atLimit.text).toBe(201);
    expect(atLimit.body.size).toBe(UPLOAD_MAX);
  });

  it('malformed requests: 400 or 415 problem+json, and nothing written, not even the bytes', async () => {
    const before = await snapshot();
    const other = Buffer.from('another copy, refused');
    const refused = [
      ['no file part', await upload(editor).field('note', 'no file'), 400],
      ['a part of another name', await upload(editor).attach('document', other, 'x.txt'), 400],
      [
        'a field before the file',
        await upload(editor).field('note', 'first').attach('file', other, 'a.txt'),
        400,
      ],
      [
        'a field after the file',
        await upload(editor).attach('file', other, 'a.txt').field('note', 'after'),
        400,
      ],
      ['two files', await upload(editor).attach('file', other, 'a.txt').attach('file', other, 'b.txt'), 400],
      ['an empty file', await upload(editor).attach('file', Buffer.alloc(0), 'empty.txt'), 400],
      ['a JSON body', await upload(editor).send({ file: 'aGVsbG8=' }), 415],
      ['a text body', await upload(editor).set('Content-Type', 'text/plain').send('just bytes'), 415],
      [
        'a truncated multipart body',
        await upload(editor)
          .set('Content-Type', 'multipart/form-data; boundary=xyz')
          .send('--xyz\r\nnonsense'),
        400,
      ],
      [
        'multipart without a boundary',
        await upload(editor).set('Content-Type', 'multipart/form-data').send('x'),
        400,
      ],
    ] as const;
    for (const [what, res, code] of refused) {
      expect([what, res.status, res.headers['content-type']]).toEqual([
        what,
        code,
        expect.stringMatching(/^application\/problem\+json/),
      ]);
    }
    await expectNothingWritten(before);
    expect(storedBlobs(blobDir)).not.toContain(createHash('sha256').update(other).digest('hex'));
    expect(storedBlobs(blobDir)).not.toContain(createHash('sha256').update('').digest('hex'));
  });

  it('capturing again while the URL still answers 404: an upload is not a capture, the source stays failed', async () => {
    const res = await request(app).post(`/v1/sources/${sourceId}/captures`).set(as(editor)).send({});
    expect(res.status).toBe(202);
    const source = await settled(sourceId);
    expect(source.status).toBe('failed');
    expect(source.failure.code).toBe('http_404');
    expect(source.evidence.map((e: { kind: string }) => e.kind)).toEqual(['upload', 'upload']);
    // Nothing was ever captured from it, so nothing is "gone".
    expect((await custody(env, sourceId)).map((e) => e.type)).not.toContain('source_gone');
  });

  it('a viewer may not upload (403), an outsider does not see the source (404); nothing written', async () => {
    const before = await snapshot();
    expectProblem(await upload(viewer).attach('file', Buffer.from('viewer copy'), 'v.txt'), 403);
    expectProblem(await upload(outsider).attach('file', Buffer.from('outsider copy'), 'o.txt'), 404);
    expectProblem(
      await upload(editor, '01a00000-0000-7000-8000-000000000000').attach('file', video, 'x.mp4'),
      404,
    );
    await expectNothingWritten(before);
  });
});
