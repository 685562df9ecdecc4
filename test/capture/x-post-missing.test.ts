// An X post the syndication service does not know (or no longer shows) is not evidence: the
// answer's exchange goes into the chain as `fetched` (no `stored`, no blob) with
// `capture_failed` `post_not_found`, not retried, and a source that never held anything is
// `failed`. A post that was captured and disappears later follows the 404 rule: `source_gone`,
// and the source stays `captured` with the failure shown. Against a fake syndication service
// on loopback, with the real workers.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { inTurn, serveFile, serveText, status, useFixtureServer } from '../helpers/fixture-server.ts';
import { captureJob, capturesOf, custody, ofType, ownBlobDir, storedBlobs } from './support.ts';

const media = (name: string) => new URL(`../fixtures/media/${name}`, import.meta.url).pathname;
const sha256 = (b: string) => createHash('sha256').update(b).digest('hex');

const server = await useFixtureServer();
const postJson = readFileSync(media('syndication-post.json'), 'utf8').replaceAll('FIXTURE_HOST', server.host);
const TOMBSTONE = JSON.stringify({
  __typename: 'TweetTombstone',
  tombstone: { text: { text: 'This Post was deleted by the Post author.' } },
});
// The seed post's record the first time, `{}` (what the service answers for ids it does not
// know) from then on: the post disappeared.
const seedPost = inTurn(serveText(postJson, 'application/json'), serveText('{}', 'application/json'));
const answers: Record<string, ReturnType<typeof serveText>> = {
  '111': serveText('{}', 'application/json'),
  '222': status(404),
  '333': serveText(TOMBSTONE, 'application/json'),
  '1869038340384076117': seedPost,
};
server.routes.set('/syndication/tweet-result', (req, res) => {
  const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? '';
  (answers[id] ?? status(500))(req, res);
});
server.routes.set('/media/zelenskyy-31s.mp4', serveFile(media('zelenskyy-31s.mp4'), 'video/mp4'));

const blobDir = ownBlobDir('xmissing');
const env = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  BLOB_DIR: blobDir,
  X_SYNDICATION_URL: `${server.origin}/syndication`,
});
const { app, as, editor, cite, settled } = env;

const syndicationUrlOf = (id: string) =>
  expect.stringMatching(new RegExp(`/syndication/tweet-result\\?id=${id}&token=`));

describe('an X post the syndication service does not know', () => {
  const cases = [
    ['{} (unknown id)', '111', 200, 2, 'empty answer: no such post'],
    ['404', '222', 404, Buffer.byteLength('status 404'), 'HTTP 404: no such post'],
    [
      'a tombstone (deleted)',
      '333',
      200,
      Buffer.byteLength(TOMBSTONE),
      'This Post was deleted by the Post author.',
    ],
  ] as const;
  for (const [what, id, httpStatus, bytes, detail] of cases) {
    it(`${what} → failed post_not_found, the exchange in the chain, no evidence`, async () => {
      const cited = await cite(`https://x.com/someone/status/${id}`);
      const source = await settled(cited.source.id);
      expect(source.status).toBe('failed');
      expect(source.failure).toEqual({ code: 'post_not_found', detail });
      expect(source.evidence).toEqual([]);

      const events = await custody(env, cited.source.id);
      expect(events.map((e) => e.type)).toEqual([
        'source_cited',
        'capture_requested',
        'fetch_started',
        'fetched',
        'capture_failed',
      ]);
      const [capture] = await capturesOf(env, cited.source.id);
      expect(ofType(events, 'fetched')[0]!.data).toMatchObject({
        captureId: capture!.id,
        url: syndicationUrlOf(id),
        status: httpStatus,
        bytes,
        remoteAddress: '127.0.0.1',
        headers: expect.objectContaining({ 'content-type': expect.any(String) }),
      });
      expect(ofType(events, 'capture_failed')[0]!.data).toEqual({
        captureId: capture!.id,
        code: 'post_not_found',
        detail,
        retryable: false,
      });
      expect(capture).toMatchObject({ status: 'failed', attempts: 1 });
      expect((await captureJob(env, capture!.id)).state).toBe('failed');
      expect(await env.ctx.prisma.evidenceItem.count({ where: { sourceId: cited.source.id } })).toBe(0);
      const verify = await request(app).get(`/v1/sources/${cited.source.id}/custody/verify`).set(as(editor));
      expect(verify.body).toMatchObject({ valid: true, length: 5 });
    });
  }

  it('stores no blob for the answers that held no post', () => {
    const blobs = storedBlobs(blobDir);
    for (const body of ['{}', TOMBSTONE]) expect(blobs).not.toContain(sha256(body));
  });
});

describe('a captured X post that disappears later', () => {
  it('records source_gone with the exchange; the source stays captured with the failure shown', async () => {
    const cited = await cite('https://x.com/ZelenskyyUa/status/1869038340384076117');
    const first = await settled(cited.source.id);
    expect(first.status).toBe('captured');
    expect(first.evidence.map((e: { kind: string }) => e.kind)).toEqual(['post_metadata', 'video']);

    const again = await request(app).post(`/v1/sources/${cited.source.id}/captures`).set(as(editor)).send({});
    expect(again.status).toBe(202);
    const source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    expect(source.failure).toEqual({ code: 'post_not_found', detail: 'empty answer: no such post' });
    expect(source.evidence.map((e: { id: string }) => e.id)).toEqual(
      first.evidence.map((e: { id: string }) => e.id),
    );
    const events = await custody(env, cited.source.id);
    expect(events.slice(-5).map((e) => e.type)).toEqual([
      'capture_requested',
      'fetch_started',
      'fetched',
      'source_gone',
      'capture_failed',
    ]);
    const [gone] = ofType(events, 'source_gone');
    expect(gone!.data).toEqual({
      captureId: again.body.captureId,
      status: 200,
      url: syndicationUrlOf('1869038340384076117'),
    });
    expect(ofType(events, 'fetched').at(-1)!.data).toMatchObject({ status: 200, bytes: 2 });
    expect(ofType(events, 'capture_failed').at(-1)!.data).toMatchObject({
      code: 'post_not_found',
      retryable: false,
    });
    expect(ofType(events, 'stored')).toHaveLength(2);
    expect(seedPost.served()).toBe(2);
  });
});
