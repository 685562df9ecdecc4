// Shared by the export proof tests (not a test file itself): one investigation run through the
// real workers — the seed X post with its 31-second video, a page declaring og:video, a post
// that is gone (failed capture) with a journalist's upload, an edited claim, a recapture whose
// content changed, a recapture schedule, a withdrawn citation, a date-only claimedAt — and its export built by the real export job.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { expect } from 'vitest';
import { createUser } from '../../src/users/users.service.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { exportAndDownload } from '../helpers/export-download.ts';
import { type Route, serveFile, serveText, status, useFixtureServer } from '../helpers/fixture-server.ts';

const media = (name: string) => new URL(`../fixtures/media/${name}`, import.meta.url).pathname;

export async function useRealCase() {
  const server = await useFixtureServer({ '/deleted-post': status(404) });
  const postJson = readFileSync(media('syndication-post.json'), 'utf8').replaceAll(
    'FIXTURE_HOST',
    server.host,
  );
  server.routes.set('/syndication/tweet-result', serveText(postJson, 'application/json'));
  server.routes.set('/media/zelenskyy-31s.mp4', serveFile(media('zelenskyy-31s.mp4'), 'video/mp4'));
  server.routes.set('/article', serveFile(media('page.html'), 'text/html; charset=utf-8'));
  let statement = 'first version of the statement';
  const changing: Route = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(statement);
  };
  server.routes.set('/statement.txt', changing);

  const env = await useCaptureEnv({
    FETCH_ALLOWLIST: server.host,
    X_SYNDICATION_URL: `${server.origin}/syndication`,
  });
  const { app, as, editor, cite, settled, ctx, investigationId } = env;
  const admin = await createUser(ctx, { name: 'Export admin', role: 'admin' }, 'system:test');

  // The seed case, and a second claim citing the same post (a reused source, checked again).
  const seed = await cite('https://x.com/ZelenskyyUa/status/1869038340384076117', {
    durationSeconds: 31,
    mediaType: 'video',
  });
  await settled(seed.source.id);
  const again = await request(app)
    .post(`/v1/claims/${seed.claimId}/sources`)
    .set(as(editor))
    .send({
      url: 'https://x.com/ZelenskyyUa/status/1869038340384076117',
      relation: 'supporting',
      expected: { durationSeconds: 30 },
    });
  expect(again.status, again.text).toBe(201);
  // A page declaring its video (og:video).
  const page = await cite(`${server.origin}/article`, { mediaType: 'video' }, 'supporting');
  await settled(page.source.id);
  // A post that is gone: the capture fails; the journalist's own copy is uploaded.
  const gone = await cite(`${server.origin}/deleted-post`, { durationSeconds: 31 });
  expect((await settled(gone.source.id)).status).toBe('failed');
  const uploaded = await request(app)
    .post(`/v1/sources/${gone.source.id}/evidence`)
    .set(as(editor))
    .attach('file', readFileSync(media('zelenskyy-31s.mp4')), {
      filename: 'own copy.mp4',
      contentType: 'video/mp4',
    });
  expect(uploaded.status, uploaded.text).toBe(201);
  // An edited claim: every editable field.
  const edited = await request(app)
    .patch(`/v1/claims/${page.claimId}`)
    .set(as(editor))
    .send({
      statement: 'Edited: the page shows the video',
      claimant: { name: 'Someone else', role: 'spokesperson' },
      claimedAt: '2024-12-17T18:30:00.000Z',
      language: 'en',
      tags: ['video', 'edited'],
      status: 'under_review',
    });
  expect(edited.status, edited.text).toBe(200);
  // A recapture with changed content, and a recapture schedule set with it.
  const text = await cite(`${server.origin}/statement.txt`);
  await settled(text.source.id);
  statement = 'second version of the statement';
  const recapture = await request(app)
    .post(`/v1/sources/${text.source.id}/captures`)
    .set(as(editor))
    .send({ recaptureEverySeconds: 3600 });
  expect(recapture.status, recapture.text).toBe(202);
  const recaptured = await settled(text.source.id);
  expect(recaptured.evidence).toHaveLength(2);
  expect(recaptured.recaptureEverySeconds).toBe(3600);

  // A withdrawn citation: the text claim cites the article too, then withdraws it (the
  // article's source and custody stay). And a claim date given as a date, kept as a date.
  const extra = await request(app)
    .post(`/v1/claims/${text.claimId}/sources`)
    .set(as(editor))
    .send({ url: `${server.origin}/article`, relation: 'context' });
  expect(extra.status, extra.text).toBe(201);
  const withdrawn = await request(app).delete(`/v1/citations/${extra.body.citation.id}`).set(as(editor));
  expect(withdrawn.status, withdrawn.text).toBe(200);
  const dated = await request(app)
    .patch(`/v1/claims/${gone.claimId}`)
    .set(as(editor))
    .send({ claimedAt: '2024-12-17' });
  expect(dated.status, dated.text).toBe(200);

  const claimIds = [seed.claimId, page.claimId, gone.claimId, text.claimId] as string[];
  const sourceIds = [seed.source.id, page.source.id, gone.source.id, text.source.id] as string[];

  /** Exports the investigation with the real export job; returns the downloaded file's path. */
  async function exportTo(dir: string, format: 'bagit' | 'json', includeContent = true) {
    const { id, file } = await exportAndDownload(app, as(admin), {
      investigationId,
      format,
      ...(format === 'bagit' ? { includeContent } : {}),
    });
    const path = join(dir, `${id}.${format === 'bagit' ? 'zip' : 'json'}`);
    writeFileSync(path, file);
    return path;
  }

  return {
    env,
    admin,
    claimIds,
    sourceIds,
    exportTo,
    withdrawn: withdrawn.body as { citationId: string; claimId: string; sourceId: string; relation: string },
  };
}
