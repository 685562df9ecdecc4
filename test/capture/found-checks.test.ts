// Issue 17, parts 2 and 4, through the real workers on loopback fixtures: a capture records the
// same and similar media it finds in the other sources of its investigation (never another
// investigation's), and checks the claim's date against the X post's created_at and the page's
// published time, and EXIF against what the citation declares. The checks are in the chain of
// custody, the API, the JSON export (which verify-export holds to the chain) and the CSV.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyExport } from '../../src/exports/verify/verify-export.ts';
import { PDQ_MATCH_DISTANCE } from '../../src/media/pdq.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import { exportAndDownload } from '../helpers/export-download.ts';
import { serveBytes, serveFile, serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { webSignIn } from '../helpers/web-client.ts';
import { ffmpeg } from '../media/media-tools.ts';
import { custody, ofType } from './support.ts';

const media = (name: string) => new URL(`../fixtures/media/${name}`, import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'claimtrail-found-checks-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The 31-second video re-encoded at another bitrate: other bytes, the same pictures.
const reencoded = join(scratch, 'reencoded.mp4');
await ffmpeg('-i', media('zelenskyy-31s.mp4'), '-c:v', 'libx264', '-crf', '38', '-an', reencoded);
const photo = readFileSync(media('photo-exif.jpg'));
// The photo resized: a near duplicate (EXIF dropped).
const resized = await sharp(photo).resize({ width: 200 }).jpeg({ quality: 70 }).toBuffer();

const server = await useFixtureServer({
  '/media/zelenskyy-31s.mp4': serveFile(media('zelenskyy-31s.mp4'), 'video/mp4'),
  '/copy/zelenskyy.mp4': serveFile(media('zelenskyy-31s.mp4'), 'video/mp4'),
  '/media/reencoded.mp4': serveFile(reencoded, 'video/mp4'),
  '/article': serveFile(media('page.html'), 'text/html; charset=utf-8'),
  '/photo.jpg': serveBytes(photo, 'image/jpeg'),
  '/photo-small.jpg': serveBytes(resized, 'image/jpeg'),
});
const postJson = readFileSync(media('syndication-post.json'), 'utf8').replaceAll('FIXTURE_HOST', server.host);
server.routes.set('/syndication/tweet-result', serveText(postJson, 'application/json'));

const env = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  X_SYNDICATION_URL: `${server.origin}/syndication`,
});
const { app, as, editor, outsider, settled, investigationId } = env;
const post = 'https://x.com/ZelenskyyUa/status/1869038340384076117';

type Check = { name: string; expected: unknown; observed: unknown; passed: boolean };
const named = (checks: Check[], name: string) => checks.filter((c) => c.name === name);

/** A claim (with its date and claimant) in `investigation` citing `url`. */
async function citeClaim(
  url: string,
  claim: { claimedAt?: string; timeZone?: string; expected?: Record<string, unknown> } = {},
  who = editor,
  investigation = investigationId,
) {
  const created = await request(app)
    .post(`/v1/investigations/${investigation}/claims`)
    .set(as(who))
    .send({
      statement: `A claim citing ${url}`,
      claimant: { name: 'Someone', ...(claim.timeZone ? { timeZone: claim.timeZone } : {}) },
      ...(claim.claimedAt ? { claimedAt: claim.claimedAt } : {}),
    });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const res = await request(app)
    .post(`/v1/claims/${created.body.id}/sources`)
    .set(as(who))
    .send({ url, relation: 'origin', ...(claim.expected ? { expected: claim.expected } : {}) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { claimId: created.body.id as string, sourceId: res.body.source.id as string };
}

async function recapture(sourceId: string) {
  const res = await request(app).post(`/v1/sources/${sourceId}/captures`).set(as(editor)).send({});
  expect(res.status).toBe(202);
  return settled(sourceId);
}

const primary = (source: { evidence: { kind: string; checks: Check[]; id: string }[] }) =>
  source.evidence.find((e) => ['video', 'image'].includes(e.kind)) ?? source.evidence[0]!;

describe("the X post's created_at against the claim's date (the seed case)", () => {
  let sourceId: string;
  let first: string;

  it('2024-12-17 passes against the post of 2024-12-17, in the custody chain too', async () => {
    const cited = await citeClaim(post, { claimedAt: '2024-12-17' });
    first = cited.claimId;
    sourceId = cited.sourceId;
    const source = await settled(sourceId);
    expect(source.status).toBe('captured');
    const video = primary(source);
    expect(named(video.checks, 'postedAt')).toEqual([
      {
        name: 'postedAt',
        expected: { claimId: first, claimedAt: '2024-12-17', timeZone: 'UTC' },
        observed: '2024-12-17T18:31:00.000Z',
        passed: true,
      },
    ]);
    expect(named(source.checks, 'postedAt')).toHaveLength(1);
    const events = await custody(env, sourceId);
    expect(ofType(events, 'check_passed').map((e) => (e.data.check as Check).name)).toContain('postedAt');
  });

  it('a claim dated 2024-12-20 fails, with both dates in the check; the first claim still passes', async () => {
    const later = await citeClaim(post, { claimedAt: '2024-12-20' });
    expect(later.sourceId).toBe(sourceId); // the same source, checked at its next capture
    const source = await recapture(sourceId);
    const checks = named(primary(source).checks, 'postedAt');
    expect(checks).toContainEqual({
      name: 'postedAt',
      expected: { claimId: later.claimId, claimedAt: '2024-12-20', timeZone: 'UTC' },
      observed: '2024-12-17T18:31:00.000Z',
      passed: false,
    });
    expect(checks.find((c) => (c.expected as { claimId: string }).claimId === first)?.passed).toBe(true);
    const failed = ofType(await custody(env, sourceId), 'check_failed');
    expect(failed.map((e) => e.data.check)).toContainEqual(
      expect.objectContaining({
        name: 'postedAt',
        expected: expect.objectContaining({ claimedAt: '2024-12-20' }),
      }),
    );
  });

  it("a claimant's time zone moves the day; a stated tolerance widens it", async () => {
    // 18:31 UTC on the 17th is 03:31 on the 18th in Tokyo.
    const tokyo = await citeClaim(post, { claimedAt: '2024-12-18', timeZone: 'Asia/Tokyo' });
    const tolerant = await citeClaim(post, {
      claimedAt: '2024-12-18T12:00:00Z',
      expected: { dateToleranceHours: 24 },
    });
    const source = await recapture(sourceId);
    const byClaim = (id: string) =>
      named(primary(source).checks, 'postedAt').find(
        (c) => (c.expected as { claimId: string }).claimId === id,
      );
    expect(byClaim(tokyo.claimId)).toMatchObject({
      expected: { claimedAt: '2024-12-18', timeZone: 'Asia/Tokyo' },
      passed: true,
    });
    expect(byClaim(tolerant.claimId)).toMatchObject({
      expected: { claimedAt: '2024-12-18T12:00:00.000Z', toleranceHours: 24 },
      passed: true,
    });
  });

  it('refuses an unknown time zone and malformed expectations with a precise 400', async () => {
    const bad = await request(app)
      .post(`/v1/investigations/${investigationId}/claims`)
      .set(as(editor))
      .send({ statement: 'x', claimant: { name: 'y', timeZone: 'Mars/Olympus' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'body.claimant.timeZone' })]);
    const claim = (
      await request(app)
        .post(`/v1/investigations/${investigationId}/claims`)
        .set(as(editor))
        .send({ statement: 'x', claimant: { name: 'y' } })
    ).body;
    for (const [expected, path] of [
      [{ location: { lat: 91, lon: 0, radiusMeters: 10 } }, 'body.expected.location.lat'],
      [{ location: { lat: 1, lon: 2 } }, 'body.expected.location.radiusMeters'],
      [{ capturedBefore: 'yesterday' }, 'body.expected.capturedBefore'],
      [{ dateToleranceHours: -1 }, 'body.expected.dateToleranceHours'],
    ] as const) {
      const res = await request(app)
        .post(`/v1/claims/${claim.id}/sources`)
        .set(as(editor))
        .send({ url: `${server.origin}/photo.jpg`, relation: 'origin', expected });
      expect(res.status, JSON.stringify(expected)).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
  });
});

/** The X post's video, which the other sources' media are matched with. */
let postVideo: string;

describe('same and similar media across the sources of one investigation', () => {
  let articleSource: string;

  it("the article's og:video is the X post's video (sameAs), with a published time checked against the claim", async () => {
    const source = await settled((await citeClaim(post)).sourceId); // the post's source again
    postVideo = primary(source).id;
    const cited = await citeClaim(`${server.origin}/article`, { claimedAt: '2024-12-17' });
    articleSource = cited.sourceId;
    const article = await settled(articleSource);
    const video = primary(article);
    expect(video.kind).toBe('video');
    expect(named(video.checks, 'sameAs')).toEqual([
      {
        name: 'sameAs',
        expected: { evidenceId: postVideo },
        observed: { sha256: expect.any(String) },
        passed: true,
      },
    ]);
    expect(named(video.checks, 'publishedAt')).toEqual([
      {
        name: 'publishedAt',
        expected: { claimId: cited.claimId, claimedAt: '2024-12-17', timeZone: 'UTC' },
        observed: '2024-12-17T19:05:00+00:00',
        passed: true,
      },
    ]);
    expect(named(article.checks, 'sameAs')).toHaveLength(1);
  });

  it('a re-encoded copy is similarTo the others, with its matched seconds', async () => {
    const source = await settled((await citeClaim(`${server.origin}/media/reencoded.mp4`)).sourceId);
    const similar = named(primary(source).checks, 'similarTo');
    expect(similar.map((c) => (c.expected as { evidenceId: string }).evidenceId)).toContain(postVideo);
    const toPost = similar.find((c) => (c.expected as { evidenceId: string }).evidenceId === postVideo)!;
    expect(toPost.expected).toEqual({ evidenceId: postVideo, maxDistance: PDQ_MATCH_DISTANCE });
    const observed = toPost.observed as {
      matchedSeconds: number;
      hashedSeconds: number;
      offsetSeconds: number;
    };
    expect(observed.matchedSeconds).toBeGreaterThanOrEqual(Math.ceil(observed.hashedSeconds * 0.9));
    expect(observed.offsetSeconds).toBe(0);
    expect(named(primary(source).checks, 'sameAs')).toEqual([]);
  });

  it('never records a match in an investigation the source does not belong to', async () => {
    const other = (
      await request(app).post('/v1/investigations').set(as(outsider)).send({ title: 'Another newsroom' })
    ).body.id as string;
    const cited = await citeClaim(`${server.origin}/copy/zelenskyy.mp4`, {}, outsider, other);
    const source = (await request(app).get(`/v1/sources/${cited.sourceId}`).set(as(outsider))).body;
    await waitFor(async () => {
      const s = (await request(app).get(`/v1/sources/${cited.sourceId}`).set(as(outsider))).body;
      return s.status === 'captured' && s;
    }, 30_000);
    const captured = (await request(app).get(`/v1/sources/${cited.sourceId}`).set(as(outsider))).body;
    expect(source.id).toBe(cited.sourceId);
    const checks: Check[] = primary(captured).checks;
    expect(checks.filter((c) => c.name === 'sameAs' || c.name === 'similarTo')).toEqual([]);
    // The same bytes, cited in this investigation, do match.
    const here = await settled((await citeClaim(`${server.origin}/copy/zelenskyy.mp4`)).sourceId);
    expect(
      named(primary(here).checks, 'sameAs').map((c) => (c.expected as { evidenceId: string }).evidenceId),
    ).toContain(postVideo);
  });
});

describe('EXIF against what the citation declares', () => {
  it('capture time before, location within the radius; a resized copy is similarTo the photo', async () => {
    // EXIF: 2024-12-17T20:31:00+02:00, GPS 50.4501 N 30.5234 E (Kyiv).
    const cited = await citeClaim(`${server.origin}/photo.jpg`, {
      expected: { capturedBefore: '2024-12-18', location: { lat: 50.45, lon: 30.52, radiusMeters: 1000 } },
    });
    const image = primary(await settled(cited.sourceId));
    expect(named(image.checks, 'capturedBefore')).toEqual([
      { name: 'capturedBefore', expected: '2024-12-18', observed: '2024-12-17T20:31:00+02:00', passed: true },
    ]);
    expect(named(image.checks, 'location')).toEqual([
      {
        name: 'location',
        expected: { lat: 50.45, lon: 30.52, radiusMeters: 1000 },
        observed: { lat: 50.4501, lon: 30.5234, distanceMeters: expect.any(Number) },
        passed: true,
      },
    ]);

    const wrong = await citeClaim(`${server.origin}/photo.jpg?elsewhere`, {
      expected: {
        capturedBefore: '2024-12-17T12:00:00Z',
        location: { lat: 48.8566, lon: 2.3522, radiusMeters: 5000 },
      },
    });
    const elsewhere = primary(await settled(wrong.sourceId));
    expect(named(elsewhere.checks, 'capturedBefore')[0]!.passed).toBe(false);
    expect(named(elsewhere.checks, 'location')[0]).toMatchObject({ passed: false });
    expect(
      (named(elsewhere.checks, 'location')[0]!.observed as { distanceMeters: number }).distanceMeters,
    ).toBeGreaterThan(1_000_000);
    // The same bytes as the first photo's source.
    expect(
      named(elsewhere.checks, 'sameAs').map((c) => (c.expected as { evidenceId: string }).evidenceId),
    ).toEqual([image.id]);

    const small = primary(await settled((await citeClaim(`${server.origin}/photo-small.jpg`)).sourceId));
    const similar = named(small.checks, 'similarTo');
    expect(similar.map((c) => (c.expected as { evidenceId: string }).evidenceId)).toContain(image.id);
    expect((similar[0]!.observed as { distance: number }).distance).toBeLessThanOrEqual(PDQ_MATCH_DISTANCE);
  });
});

describe('the web app', () => {
  it('the claim page says the matches and the claim-date check in words', async () => {
    // The article's source is cited again: the new claim's date is checked at its next capture.
    const cited = await citeClaim(`${server.origin}/article`, { claimedAt: '2024-12-20' });
    await recapture(cited.sourceId);
    const web = await webSignIn(app, editor.token);
    const page = await web.get(`/claims/${cited.claimId}`);
    expect(page.status).toBe(200);
    const text = page.text.replace(/\s+/g, ' ');
    expect(text).toContain(`same as: the same bytes as evidence ${postVideo.slice(0, 13)}…`);
    expect(text).toContain(`href="/evidence/${postVideo}"`);
    expect(text).toContain('published: claimed 2024-12-20 (UTC) · page says 2024-12-17T19:05:00+00:00');
  });

  it("the claim form takes the claimant's time zone, and refuses one that is not", async () => {
    const web = await webSignIn(app, editor.token);
    const made = await web.post(`/investigations/${investigationId}/claims`, {
      statement: 'Said on the 18th, Kyiv time',
      claimantName: 'Someone',
      claimantTimeZone: 'Europe/Kyiv',
      claimedAt: '2024-12-18',
    });
    expect(made.status).toBe(303);
    const page = await web.get(made.headers.location!);
    expect(page.text).toContain('(time zone Europe/Kyiv)');
    const bad = await web.post(`/investigations/${investigationId}/claims`, {
      statement: 'x',
      claimantName: 'y',
      claimantTimeZone: 'Mars/Olympus',
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('IANA time zone');
  });
});

describe('exports', () => {
  async function exportOf(body: Record<string, unknown>) {
    return (await exportAndDownload(app, as(editor), body)).file;
  }

  it('the JSON export holds the new checks, verify-export proves them and names a changed one', async () => {
    const file = await exportOf({ investigationId, format: 'json' });
    const doc = JSON.parse(file.toString('utf8'));
    const checks = doc.evidence.flatMap((e: { checks: Check[] }) => e.checks) as Check[];
    for (const name of ['postedAt', 'publishedAt', 'sameAs', 'similarTo', 'capturedBefore', 'location'])
      expect(
        checks.map((c) => c.name),
        name,
      ).toContain(name);
    const path = join(scratch, 'export.json');
    writeFileSync(path, file);
    const clean = await verifyExport(path);
    expect(clean.problems).toEqual([]);
    expect(clean.ok).toBe(true);

    // Moving the post's date in export.json is caught: the chain says otherwise.
    const forged = file
      .toString('utf8')
      .replace('"observed":"2024-12-17T18:31:00.000Z"', '"observed":"2024-12-20T18:31:00.000Z"');
    expect(forged).not.toBe(file.toString('utf8'));
    writeFileSync(path, forged);
    const report = await verifyExport(path);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/checks.*2024-12-20/);
  });

  it('the CSV lists matches in their own column', async () => {
    const csv = (await exportOf({ investigationId, format: 'csv' })).toString('utf8');
    const [head, ...rows] = csv
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(head!.split(',')).toContain('matches');
    expect(rows.some((r) => r.includes(`sameAs ${postVideo}`))).toBe(true);
    expect(rows.some((r) => /similarTo \S+ distance \d+/.test(r))).toBe(true);
    expect(rows.some((r) => r.includes('postedAt:failed'))).toBe(true);
  });
});
