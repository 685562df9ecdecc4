// GET /v1/evidence/:id/similar over the real API: journalists' uploads hashed with hashEvidence
// and stored as a capture will store them; same bytes and PDQ neighbours, video seconds and
// offsets, and never an item of an investigation the caller cannot see.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { similarResponseSchema } from '../../src/evidence/similar-view.schema.ts';
import { createApp } from '../../src/http/app.ts';
import { hashEvidence } from '../../src/media/pdq-evidence.ts';
import { insertMediaHashes } from '../../src/media/pdq-store.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';
import { ffmpeg, mediaFixtures, scratchDir, testFfmpeg, vector, vectorPath } from './media-tools.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const dir = await scratchDir();
const ffmpegPath = await testFfmpeg();
const as = (t: string) => ({ Authorization: `Bearer ${t}` });
const mk = (role: 'admin' | 'editor') =>
  createUser(ctx, { name: `${role} ${randomUUID().slice(0, 6)}`, role }, 'system:test');
const admin = await mk('admin');
const alice = await mk('editor');
const bob = await mk('editor');

async function sourceIn(token: string, investigationId: string, url: string): Promise<string> {
  const claim = (
    await request(app)
      .post(`/v1/investigations/${investigationId}/claims`)
      .set(as(token))
      .send({ statement: `claim ${url}`, claimant: { name: 'X' } })
  ).body;
  return (
    await request(app).post(`/v1/claims/${claim.id}/sources`).set(as(token)).send({ url, relation: 'origin' })
  ).body.source.id;
}

/** Uploads the bytes, then hashes and stores them as the capture will (hashEvidence + insertMediaHashes). */
async function upload(token: string, sourceId: string, bytes: Buffer, name: string): Promise<string> {
  const res = await request(app)
    .post(`/v1/sources/${sourceId}/evidence`)
    .set(as(token))
    .attach('file', bytes, name);
  expect(res.status).toBe(201);
  const hashes = await hashEvidence({ blobs: ctx.blobs, ffmpegPath }, res.body);
  if (hashes)
    await writeTransaction(ctx.pool, (tx) =>
      insertMediaHashes(tx, { evidenceId: res.body.id, sourceId }, hashes.frames),
    );
  return res.body.id;
}

const investigation = async (token: string, title: string) =>
  (await request(app).post('/v1/investigations').set(as(token)).send({ title })).body.id as string;
const invA = await investigation(alice.token, 'A');
const invB = await investigation(bob.token, 'B');
const a1 = await sourceIn(alice.token, invA, 'https://news.example/a1');
const a2 = await sourceIn(alice.token, invA, 'https://news.example/a2');
const b1 = await sourceIn(bob.token, invB, 'https://news.example/b1');

const bridge = await readFile(vectorPath(vector('bridge-1-original').file));
const meta = await sharp(bridge).metadata();
const bridgeCopy = await sharp(bridge)
  .extract({ left: 20, top: 12, width: meta.width! - 40, height: meta.height! - 24 })
  .resize(700)
  .jpeg({ quality: 70 })
  .toBuffer();
const unrelated = await readFile(vectorPath(vector('q0291').file));

const original = join(mediaFixtures, 'zelenskyy-31s.mp4');
const quarter = join(dir, 'quarter.mp4');
await ffmpeg('-i', original, '-vf', 'scale=48:32', '-c:v', 'libx264', '-b:v', '40k', '-an', quarter);
const clip = join(dir, 'clip.mp4');
await ffmpeg('-ss', '10', '-i', original, '-t', '12', '-c:v', 'libx264', '-an', clip);
const video = await readFile(original);

const photo = await upload(alice.token, a1, bridge, 'bridge.jpg');
const photoCopy = await upload(alice.token, a2, bridgeCopy, 'copy.jpg');
const photoOther = await upload(alice.token, a1, unrelated, 'other.jpg');
const clipA = await upload(alice.token, a1, video, 'video.mp4');
const clipSame = await upload(alice.token, a2, video, 'video.mp4');
const clipQuarter = await upload(alice.token, a2, await readFile(quarter), 'quarter.mp4');
const clipCut = await upload(alice.token, a2, await readFile(clip), 'clip.mp4');
// Bob's investigation holds the same photo and video: Alice must never see them.
const bobPhoto = await upload(bob.token, b1, bridge, 'bridge.jpg');
const bobVideo = await upload(bob.token, b1, video, 'video.mp4');

async function similar(token: string, id: string, query = '') {
  const res = await request(app).get(`/v1/evidence/${id}/similar${query}`).set(as(token));
  if (res.status === 200) similarResponseSchema.parse(res.body);
  return res;
}

describe('GET /v1/evidence/:id/similar', () => {
  it('a photo: its cropped, resized copy is similar, another photo is not, another investigation’s copy is invisible', async () => {
    const res = await similar(alice.token, photo);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ evidenceId: photo, distance: 31, minQuality: 50, hashedSeconds: 1 });
    expect(res.body.matches).toHaveLength(1);
    expect(res.body.matches[0]).toMatchObject({
      evidenceId: photoCopy,
      sourceId: a2,
      investigationId: invA,
      kind: 'upload',
      mediaType: 'image/jpeg',
      relation: 'similarTo',
    });
    expect(res.body.matches[0].distance).toBeLessThanOrEqual(31);
    expect(res.body.matches[0]).not.toHaveProperty('matchedSeconds');
    const ids = JSON.stringify(res.body);
    expect(ids).not.toContain(photoOther);
    expect(ids).not.toContain(bobPhoto);
    expect(ids).not.toContain(invB);
  });

  it('an admin sees every investigation: the same bytes in Bob’s first', async () => {
    const res = await similar(admin.token, photo);
    // Other test files share the database, and an admin sees their items too: look at ours.
    const ours = res.body.matches.filter((m: { investigationId: string }) =>
      [invA, invB].includes(m.investigationId),
    );
    expect(ours.map((m: { evidenceId: string; relation: string }) => [m.evidenceId, m.relation])).toEqual([
      [bobPhoto, 'sameAs'],
      [photoCopy, 'similarTo'],
    ]);
  });

  it('is 404 to a caller who cannot see the item, as the item itself is', async () => {
    expect((await similar(bob.token, photo)).status).toBe(404);
    expect((await request(app).get(`/v1/evidence/${photo}`).set(as(bob.token))).status).toBe(404);
    expect((await similar(alice.token, randomUUID())).status).toBe(404);
  });

  it('a video: the same bytes, a quarter-resolution copy on ≥ 90% of its seconds, a 12 s clip cut at 0:10 with its offset', async () => {
    const res = await similar(alice.token, clipA);
    expect(res.body.hashedSeconds).toBe(31);
    const byId = Object.fromEntries(res.body.matches.map((m: { evidenceId: string }) => [m.evidenceId, m]));
    expect(Object.keys(byId).sort()).toEqual([clipSame, clipQuarter, clipCut].sort());
    expect(res.body.matches[0]).toMatchObject({
      evidenceId: clipSame,
      relation: 'sameAs',
      distance: 0,
      share: 1,
    });
    expect(byId[clipQuarter]).toMatchObject({ relation: 'similarTo', offsetSeconds: 0 });
    expect(byId[clipQuarter].share).toBeGreaterThanOrEqual(0.9);
    expect(byId[clipCut].matchedSeconds).toBeGreaterThanOrEqual(10); // 12 of 31 seconds are in the clip
    expect(byId[clipCut].offsetSeconds).toBe(-10);

    const fromClip = await similar(alice.token, clipCut);
    const back = fromClip.body.matches.find((m: { evidenceId: string }) => m.evidenceId === clipA);
    expect(back).toMatchObject({ relation: 'similarTo', offsetSeconds: 10 });
    expect(back.share).toBeGreaterThanOrEqual(0.9);
    expect(JSON.stringify(fromClip.body)).not.toContain(bobVideo);
  });

  it('takes a distance and a quality floor, and refuses bad ones', async () => {
    const exact = await similar(alice.token, photo, '?distance=0');
    expect(exact.body.matches).toEqual([]);
    const strict = await similar(alice.token, photo, '?minQuality=100');
    expect(strict.body.minQuality).toBe(100);
    expect((await similar(alice.token, photo, '?distance=64')).status).toBe(400);
    expect((await similar(alice.token, photo, '?minQuality=x')).status).toBe(400);
    expect((await similar(alice.token, photo, '?other=1')).status).toBe(400);
  });
});
