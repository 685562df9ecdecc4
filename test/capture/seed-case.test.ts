// The seed case end to end (../shared/examples/seed-article.txt): an X post is cited with a
// declared 31-second video; the real workers read the post through a fake syndication
// endpoint on loopback, capture the best MP4, probe it with the real ffprobe and check the
// declared duration. A 30-second variant declared as 31 fails its check.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { DURATION_TOLERANCE_SECONDS } from '../../src/capture/checks.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { serveFile, serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { c2paAbsent } from './support.ts';

const media = (name: string) => new URL(`../fixtures/media/${name}`, import.meta.url).pathname;
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

const server = await useFixtureServer();
const postJson = readFileSync(media('syndication-post.json'), 'utf8').replaceAll('FIXTURE_HOST', server.host);
// The seed post's record; any other post id gets a record whose post has a shape this code
// does not know (unknown and deleted posts: x-post-missing.test.ts).
server.routes.set('/syndication/tweet-result', (req, res) =>
  (req.url ?? '').includes('id=1869038340384076117&')
    ? serveText(postJson, 'application/json')(req, res)
    : serveText('{"id_str":"42","note":"a shape nobody knows"}', 'application/json')(req, res),
);
server.routes.set('/media/zelenskyy-31s.mp4', serveFile(media('zelenskyy-31s.mp4'), 'video/mp4'));
server.routes.set('/media/variant-30s.mp4', serveFile(media('variant-30s.mp4'), 'video/mp4'));
server.routes.set('/article', serveFile(media('page.html'), 'text/html; charset=utf-8'));

const env = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  X_SYNDICATION_URL: `${server.origin}/syndication`,
});
const { app, as, editor, viewer, outsider, cite, settled, custodyTypes } = env;

describe('the seed case: an X post with a 31-second video', () => {
  const post = 'https://twitter.com/ZelenskyyUa/status/1869038340384076117?s=20';
  let cited: Awaited<ReturnType<typeof cite>>;
  let source: Awaited<ReturnType<typeof settled>>;

  it('captures the post record and the highest-bitrate video, and the 31 s check passes', async () => {
    cited = await cite(post, { durationSeconds: 31, mediaType: 'video' });
    expect(cited.source.normalizedUrl).toBe('https://x.com/zelenskyyua/status/1869038340384076117');
    source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    expect(source.failure).toBeNull();
    const kinds = source.evidence.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(['post_metadata', 'video']);

    const record = source.evidence[0];
    expect(record.mediaType).toBe('application/json');
    expect(record.metadata).toMatchObject({ postId: '1869038340384076117', screenName: 'ZelenskyyUa' });
    expect(record.sha256).toBe(createHash('sha256').update(postJson).digest('hex'));

    const video = source.evidence[1];
    expect(video.sha256).toBe(sha256(media('zelenskyy-31s.mp4'))); // independent hash of the file
    expect(video.size).toBe(readFileSync(media('zelenskyy-31s.mp4')).length);
    expect(video.mediaType).toBe('video/mp4');
    expect(video.originUrl).toBe(`${server.origin}/media/zelenskyy-31s.mp4?tag=16`);
    expect(Math.abs(video.metadata.durationSeconds - 31)).toBeLessThanOrEqual(DURATION_TOLERANCE_SECONDS);
    expect(video.metadata.streams.map((s: { codec: string }) => s.codec).sort()).toEqual(['aac', 'h264']);
    expect(video.metadata).toMatchObject({ width: 96, height: 64 });
    expect(video.checks).toEqual([
      c2paAbsent,
      { name: 'durationSeconds', expected: 31, observed: video.metadata.durationSeconds, passed: true },
      { name: 'mediaType', expected: 'video', observed: 'video', passed: true },
    ]);
    expect(source.checks).toEqual(video.checks);
    // The HLS playlist and the lower-bitrate MP4 were never requested.
    expect(server.hits.get('/media/variant-30s.mp4')).toBeUndefined();
    expect(server.hits.get('/media/playlist.m3u8')).toBeUndefined();
  });

  it('records every step in the chain of custody, which verifies', async () => {
    expect(await custodyTypes(cited.source.id)).toEqual([
      'source_cited',
      'capture_requested',
      'fetch_started',
      'fetched',
      'stored',
      'metadata_extracted',
      'fetched',
      'stored',
      'metadata_extracted',
      'check_passed',
      'check_passed',
      'check_passed',
      'checks_updated',
      'capture_completed',
    ]);
    const custody = await request(app)
      .get(`/v1/sources/${cited.source.id}/custody?limit=200`)
      .set(as(editor));
    const fetched = custody.body.items.find((e: { type: string }) => e.type === 'fetched');
    expect(fetched.data).toMatchObject({ status: 200, remoteAddress: '127.0.0.1', redirects: [] });
    expect(fetched.data.headers['content-type']).toBe('application/json');
    const verify = await request(app).get(`/v1/sources/${cited.source.id}/custody/verify`).set(as(viewer));
    expect(verify.body).toMatchObject({ valid: true, length: 14 });
  });

  it('serves the preserved bytes with ETag, Repr-Digest and ranges, and records each read', async () => {
    const video = source.evidence[1];
    const file = readFileSync(media('zelenskyy-31s.mp4'));
    const full = await request(app)
      .get(`/v1/evidence/${video.id}/content`)
      .set(as(viewer))
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(full.status).toBe(200);
    expect(Buffer.compare(full.body, file)).toBe(0);
    expect(full.headers['content-type']).toBe('video/mp4');
    expect(full.headers.etag).toBe(`"sha256-${video.sha256}"`);
    expect(full.headers['repr-digest']).toBe(
      `sha-256=:${createHash('sha256').update(file).digest('base64')}:`,
    );

    const part = await request(app)
      .get(`/v1/evidence/${video.id}/content`)
      .set(as(viewer))
      .set('Range', 'bytes=10-19');
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${file.length}`);
    expect(part.headers['content-length']).toBe('10');

    const beyond = await request(app)
      .get(`/v1/evidence/${video.id}/content`)
      .set(as(viewer))
      .set('Range', `bytes=${file.length}-`);
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-type']).toMatch(/application\/problem\+json/);

    const notModified = await request(app)
      .get(`/v1/evidence/${video.id}/content`)
      .set(as(viewer))
      .set('If-None-Match', `"sha256-${video.sha256}"`);
    expect(notModified.status).toBe(304);

    const reads = (
      await request(app).get(`/v1/sources/${cited.source.id}/custody?limit=200`).set(as(editor))
    ).body.items.filter((e: { type: string }) => e.type === 'evidence_read');
    expect(
      reads.map((e: { data: { range: string | null; bytes: number }; actor: string }) => [
        e.data.range,
        e.data.bytes,
        e.actor,
      ]),
    ).toEqual([
      [null, file.length, `user:${viewer.id}`],
      ['bytes=10-19', 10, `user:${viewer.id}`],
    ]);
  });

  it('hides evidence from other newsrooms (404) and its bytes too', async () => {
    const video = source.evidence[1];
    expect((await request(app).get(`/v1/evidence/${video.id}`).set(as(outsider))).status).toBe(404);
    expect((await request(app).get(`/v1/evidence/${video.id}/content`).set(as(outsider))).status).toBe(404);
    expect((await request(app).get(`/v1/evidence/${video.id}`).set(as(viewer))).body.sha256).toBe(
      video.sha256,
    );
  });

  it('capturing again with unchanged content adds no second stored event or blob', async () => {
    const res = await request(app).post(`/v1/sources/${cited.source.id}/captures`).set(as(editor)).send({});
    expect(res.status).toBe(202);
    expect(res.body.captureId).toMatch(/^[0-9a-f-]{36}$/);
    const again = await settled(cited.source.id);
    expect(again.evidence.map((e: { id: string }) => e.id)).toEqual(
      source.evidence.map((e: { id: string }) => e.id),
    );
    const types = await custodyTypes(cited.source.id);
    expect(types.filter((t) => t === 'stored')).toHaveLength(2);
    expect(types.filter((t) => t === 'fetched')).toHaveLength(4);
    expect(types).not.toContain('content_changed');
  });

  it('a second claim citing the captured post is checked against its own declaration at once', async () => {
    const second = await cite(post, { durationSeconds: 45 }, 'context');
    expect(second.source.id).toBe(cited.source.id);
    const video = second.source.evidence.find((e: { kind: string }) => e.kind === 'video');
    expect(video.checks).toEqual([
      c2paAbsent,
      { name: 'durationSeconds', expected: 31, observed: video.metadata.durationSeconds, passed: true },
      { name: 'durationSeconds', expected: 45, observed: video.metadata.durationSeconds, passed: false },
      { name: 'mediaType', expected: 'video', observed: 'video', passed: true },
    ]);
    const types = await custodyTypes(cited.source.id);
    expect(types.slice(-3)).toEqual(['source_cited', 'check_failed', 'checks_updated']);
  });

  it('a viewer may not capture (403), an outsider does not see the source (404)', async () => {
    expect(
      (await request(app).post(`/v1/sources/${cited.source.id}/captures`).set(as(viewer)).send({})).status,
    ).toBe(403);
    expect(
      (await request(app).post(`/v1/sources/${cited.source.id}/captures`).set(as(outsider)).send({})).status,
    ).toBe(404);
  });
});

describe('a post record of an unknown shape', () => {
  it('keeps the record as evidence and fails the capture with bad_post_metadata', async () => {
    const cited = await cite('https://x.com/someone/status/42');
    const source = await settled(cited.source.id);
    // The record it holds is evidence (the service changed its format, the bytes are kept to
    // be read later): the source stays captured, with the failure shown.
    expect(source.status).toBe('captured');
    expect(source.failure.code).toBe('bad_post_metadata');
    expect(source.evidence.map((e: { kind: string }) => e.kind)).toEqual(['post_metadata']);
    const types = await custodyTypes(cited.source.id);
    expect(types.slice(-2)).toEqual(['metadata_extracted', 'capture_failed']);
  });
});

describe('declared duration refuted', () => {
  it('a 30-second video declared as 31 fails its check, which is data, not an error', async () => {
    const cited = await cite(`${server.origin}/media/variant-30s.mp4`, { durationSeconds: 31 });
    const source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    const [video] = source.evidence;
    expect(video.kind).toBe('video');
    // The product's tolerance, not one ffprobe build's reading (ffprobe 5.1 and 6 differ).
    expect(Math.abs(video.metadata.durationSeconds - 30)).toBeLessThanOrEqual(DURATION_TOLERANCE_SECONDS);
    // The 30-second cut is the seed video's first 30 seconds: issue 17 records it as similar
    // (every one of its seconds matched, offset 0) to the X post's video in this investigation.
    expect(video.checks).toEqual([
      c2paAbsent,
      { name: 'durationSeconds', expected: 31, observed: video.metadata.durationSeconds, passed: false },
      {
        name: 'similarTo',
        expected: { evidenceId: expect.any(String), maxDistance: 31 },
        observed: expect.objectContaining({ matchedSeconds: 30, hashedSeconds: 30, offsetSeconds: 0 }),
        passed: true,
      },
    ]);
    expect(await custodyTypes(cited.source.id)).toContain('check_failed');
  });
});

describe('a web page and the media it declares', () => {
  it('preserves the HTML as a page item and captures its og:video; a declared image that is gone is recorded', async () => {
    const cited = await cite(`${server.origin}/article`, { durationSeconds: 31 });
    const source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    const page = source.evidence.find((e: { kind: string }) => e.kind === 'page');
    expect(page.mediaType).toBe('text/html');
    expect(page.sha256).toBe(sha256(media('page.html')));
    expect(page.metadata.canonicalUrl).toBe(
      'https://news.example.org/2024/12/17/zelenskyy-north-korean-soldiers',
    );
    const video = source.evidence.find((e: { kind: string }) => e.kind === 'video');
    expect(video.sha256).toBe(sha256(media('zelenskyy-31s.mp4')));
    expect(video.checks).toContainEqual(expect.objectContaining({ name: 'durationSeconds', passed: true }));
    const custody = (
      await request(app).get(`/v1/sources/${cited.source.id}/custody?limit=200`).set(as(editor))
    ).body.items;
    const skipped = custody.filter((e: { type: string }) => e.type === 'fetch_failed');
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped.map((e: { data: { url: string } }) => e.data.url)).toContain(
      `${server.origin}/media/poster.jpg?w=96&h=64`,
    );
  });
});
