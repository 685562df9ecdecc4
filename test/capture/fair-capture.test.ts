// Fair capture: six sources on a host that accepts connections and never answers must not
// starve everyone else. With real workers (concurrency 4) and CAPTURE_PER_HOST_CONCURRENCY = 2,
// another investigation's source is captured while the slow host still holds its two
// connections unanswered, and the slow host never sees more than two connections at once (both
// counted at the server). Then each slow capture ends its attempts on the response-headers
// timeout (shortened here; the total FETCH_TIMEOUT_MS stays its default 15 min), a transient
// failure retried per the policy; waiting for a host slot used none of those attempts.
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { HostSlots } from '../../src/queue/host-slots.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import { serveFile, serveText, silent, useFixtureServer } from '../helpers/fixture-server.ts';
import { captureJob, capturesOf, custody, ofType, ownBlobDir, settleSkippingBackoff } from './support.ts';

const LIMIT = 2;
const SLOW_SOURCES = 6;
const slow = await useFixtureServer();
const slowPaths = Array.from({ length: SLOW_SOURCES }, (_, i) => `/stall/${i + 1}`);
for (const path of slowPaths) slow.routes.set(path, silent);

const normal = await useFixtureServer();
/** The slow server's connections and requests at the moment the other source's request arrived. */
let slowWhenOtherFetched: (ReturnType<typeof slow.connections> & { requests: number }) | undefined;
normal.routes.set('/fine', (req, res) => {
  slowWhenOtherFetched ??= { ...slow.connections(), requests: slow.totalHits() };
  serveText('fine and fast', 'text/plain')(req, res);
});

// A page whose og:image is on the slow host: a secondary fetch takes that host's slot too.
slow.routes.set('/stall/image.jpg', silent);
normal.routes.set(
  '/page',
  serveText(
    `<html><head><meta property="og:image" content="${slow.origin}/stall/image.jpg"></head><body>p</body></html>`,
  ),
);

// An X post whose record comes from the syndication service (on `normal`) and whose video is
// on a CDN host of its own.
const cdn = await useFixtureServer();
const media = (name: string) => new URL(`../fixtures/media/${name}`, import.meta.url).pathname;
cdn.routes.set('/media/zelenskyy-31s.mp4', serveFile(media('zelenskyy-31s.mp4'), 'video/mp4'));
const postJson = readFileSync(media('syndication-post.json'), 'utf8').replaceAll('FIXTURE_HOST', cdn.host);
normal.routes.set('/syndication/tweet-result', serveText(postJson, 'application/json'));

const env = await useCaptureEnv({
  X_SYNDICATION_URL: `${normal.origin}/syndication`,
  FETCH_ALLOWLIST: `${slow.host},${normal.host},${cdn.host}`,
  BLOB_DIR: ownBlobDir('fair'),
  FETCH_HEADERS_TIMEOUT_MS: '4000',
  CAPTURE_PER_HOST_CONCURRENCY: String(LIMIT),
  WORKER_CONCURRENCY: '4',
});
const { app, as, editor, cite, settled } = env;

/** A claim in a second investigation of its own citing `url`. */
async function citeElsewhere(url: string) {
  const inv = await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Another desk' });
  const claim = await request(app)
    .post(`/v1/investigations/${inv.body.id}/claims`)
    .set(as(editor))
    .send({ statement: 'Elsewhere', claimant: { name: 'Someone else' } });
  const res = await request(app)
    .post(`/v1/claims/${claim.body.id}/sources`)
    .set(as(editor))
    .send({ url, relation: 'origin' });
  expect(res.status).toBe(201);
  return res.body.source.id as string;
}

describe('a slow host holds at most its share of capture slots', () => {
  const slowSources: string[] = [];

  it("another investigation's source is captured while the slow host holds its connections", async () => {
    const cited = await Promise.all(slowPaths.map((path) => cite(`${slow.origin}${path}`)));
    slowSources.push(...cited.map((c) => c.source.id as string));
    // The slow host's share is taken: its requests sit unanswered.
    await waitFor(async () => slow.connections().open >= LIMIT);

    const otherId = await citeElsewhere(`${normal.origin}/fine`);
    const other = await settled(otherId);
    expect(other.status).toBe('captured');
    expect(other.evidence).toHaveLength(1);
    // Fetched while both of the slow host's connections were open and none had ended yet; the
    // four other slow captures were waiting in the queue (no request of theirs had been sent).
    expect(slowWhenOtherFetched).toEqual({ open: LIMIT, maxOpen: LIMIT, closed: 0, requests: LIMIT });
  });

  it('each slow capture ends on the headers timeout, retried per the policy, never above the limit', async () => {
    const captures = await Promise.all(slowSources.map(async (id) => (await capturesOf(env, id))[0]!));
    // Backoff waits are skipped (promoted); the attempts and their failures are the real ones.
    await Promise.all(captures.map((c) => settleSkippingBackoff(env, c.id, 110_000)));
    for (const [i, sourceId] of slowSources.entries()) {
      const source = await settled(sourceId);
      expect(source.status).toBe('failed');
      expect(source.failure).toEqual({ code: 'headers_timeout', detail: 'no response headers in time' });
      const events = await custody(env, sourceId);
      expect(ofType(events, 'capture_failed').map((e) => [e.data.code, e.data.retryable])).toEqual([
        ['headers_timeout', true],
        ['headers_timeout', true],
        ['headers_timeout', true],
        ['headers_timeout', true],
        ['headers_timeout', false],
      ]);
      expect(ofType(events, 'fetch_started')).toHaveLength(5);
      const [capture] = await capturesOf(env, sourceId);
      expect(capture).toMatchObject({ status: 'failed', attempts: 5 });
      // Every wait for a host slot went back to the queue without using an attempt.
      expect((await captureJob(env, capture!.id)).job.attemptsMade).toBe(5);
      expect(slow.hits.get(slowPaths[i]!)).toBe(5);
    }
    expect(slow.connections().maxOpen).toBe(LIMIT);
  }, 120_000);

  it('media a page declares on a host whose slots are taken are skipped and recorded, not waited for', async () => {
    // Two captures elsewhere hold the slow host's share (leases as their workers take them).
    const slots = new HostSlots(env.ctx.redis, env.ctx.config.REDIS_PREFIX, LIMIT, env.ctx.log);
    const held = await Promise.all([slots.tryAcquire(slow.host, 'a'), slots.tryAcquire(slow.host, 'b')]);
    expect(held.every(Boolean)).toBe(true);
    const hitsBefore = slow.totalHits();
    const cited = await cite(`${normal.origin}/page`);
    const page = await settled(cited.source.id);
    expect(page.status).toBe('captured');
    expect(page.evidence.map((e: { kind: string }) => e.kind)).toEqual(['page']);
    const image = `${slow.origin}/stall/image.jpg`;
    expect(ofType(await custody(env, cited.source.id), 'fetch_failed').map((e) => e.data)).toEqual([
      expect.objectContaining({ url: image, code: 'host_busy' }),
    ]);
    expect(slow.totalHits()).toBe(hitsBefore);

    // With the slots free again, a recapture does ask the slow host (and times out on it).
    await Promise.all(held.map((lease) => lease!.release()));
    const again = await request(app).post(`/v1/sources/${cited.source.id}/captures`).set(as(editor)).send({});
    expect(again.status).toBe(202);
    await settled(cited.source.id);
    const failed = ofType(await custody(env, cited.source.id), 'fetch_failed').map((e) => e.data);
    expect(failed.at(-1)).toMatchObject({
      captureId: again.body.captureId,
      url: image,
      code: 'headers_timeout',
    });
    expect(slow.hits.get('/stall/image.jpg')).toBe(1);
  });

  it('a post whose video host is busy waits in the queue, then resumes where it stopped', async () => {
    const slots = new HostSlots(env.ctx.redis, env.ctx.config.REDIS_PREFIX, LIMIT, env.ctx.log);
    const held = await Promise.all([slots.tryAcquire(cdn.host, 'a'), slots.tryAcquire(cdn.host, 'b')]);
    expect(held.every(Boolean)).toBe(true);
    const cited = await cite('https://x.com/ZelenskyyUa/status/1869038340384076117');
    const [capture] = await capturesOf(env, cited.source.id);
    // The record is captured, then the job waits (delayed) for the CDN without asking it.
    const firstWait = await waitFor(async () => {
      const stored = ofType(await custody(env, cited.source.id), 'stored').length;
      const { job, state } = await captureJob(env, capture!.id);
      return stored === 1 && state === 'delayed' && job.processedOn;
    }, 20_000);
    // It looks again (a later run) while the CDN stays busy, and goes back to wait.
    await waitFor(async () => {
      const { job, state } = await captureJob(env, capture!.id);
      return state === 'delayed' && job.processedOn !== firstWait;
    }, 20_000);
    expect(cdn.totalHits()).toBe(0);

    await Promise.all(held.map((lease) => lease!.release()));
    const source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    expect(source.evidence.map((e: { kind: string }) => e.kind)).toEqual(['post_metadata', 'video']);
    expect((await custody(env, cited.source.id)).map((e) => e.type)).toEqual([
      'source_cited',
      'capture_requested',
      'fetch_started',
      'fetched',
      'stored',
      'metadata_extracted',
      'fetched',
      'stored',
      'metadata_extracted',
      // The video's own observed check: no C2PA manifest (absent passes).
      'check_passed',
      'checks_updated',
      'capture_completed',
    ]);
    const [done] = await capturesOf(env, cited.source.id);
    expect(done).toMatchObject({ status: 'completed', attempts: 1 });
    expect(cdn.totalHits()).toBe(1);
  });
});
