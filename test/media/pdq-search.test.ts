// Stored perceptual hashes and the Hamming-distance search (media_hashes, src/media/pdq-store.ts)
// on this run's database as the runtime role: exact neighbours compared with a brute-force scan,
// the boundary of the distance, investigations the caller cannot see, quality; and
// hashEvidence on real files from the blob store.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/db/ids.ts';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { hammingDistance, PDQ_MATCH_DISTANCE } from '../../src/media/pdq.ts';
import { hashEvidence, pdqEventData } from '../../src/media/pdq-evidence.ts';
import { probeTokens, segmentTokens } from '../../src/media/pdq-multi-index.ts';
import {
  type FrameHash,
  findSimilarHashes,
  insertMediaHashes,
  mediaHashesOf,
} from '../../src/media/pdq-store.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { useTestContext } from '../helpers/context.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { mediaFixtures, scratchDir, testFfmpeg, vector, vectorPath } from './media-tools.ts';

const ctx = useTestContext();
const dir = await scratchDir();
const next = mulberry32(4242);

const randomHash = () => Array.from({ length: 8 }, () => next().toString(16).padStart(8, '0')).join('');

/** `hash` with exactly `bits` distinct bits flipped. */
function flip(hash: string, bits: number): string {
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(next() % 256);
  const digits = hash.split('').map((d) => Number.parseInt(d, 16));
  for (const bit of chosen) digits[bit >> 2]! ^= 8 >> (bit & 3);
  return digits.map((d) => d.toString(16)).join('');
}

/** Each item's source, for storing its hashes. */
const sourceOf = new Map<string, string>();

/** A user, an investigation with `sourceCount` sources, and `count` evidence items in them (item
 * i in source i mod sourceCount). */
async function investigationWithItems(
  count: number,
  sourceCount = 1,
): Promise<{ investigationId: string; sources: string[]; items: string[] }> {
  const user = newId();
  const investigationId = newId();
  const sources = Array.from({ length: sourceCount }, () => newId());
  await ctx.pool.query(`INSERT INTO users (id, name, role) VALUES ($1, 'pdq test', 'editor')`, [user]);
  await ctx.pool.query(`INSERT INTO investigations (id, title, created_by) VALUES ($1, 'pdq', $2)`, [
    investigationId,
    user,
  ]);
  for (const source of sources) {
    await ctx.pool.query(
      `INSERT INTO sources (id, investigation_id, url, normalized_url) VALUES ($1, $2, $3, $3)`,
      [source, investigationId, `https://pdq.example/${source}`],
    );
  }
  const items = Array.from({ length: count }, () => newId());
  for (const [i, id] of items.entries()) sourceOf.set(id, sources[i % sourceCount]!);
  await ctx.pool.query(
    `INSERT INTO evidence_items (id, source_id, kind, media_type, size, sha256)
     SELECT id, source, 'image', 'image/jpeg', 1, encode(sha256(id::text::bytea), 'hex')
     FROM unnest($1::uuid[], $2::uuid[]) AS x(id, source)`,
    [items, items.map((id) => sourceOf.get(id))],
  );
  return { investigationId, sources, items };
}

const store = (evidenceId: string, frames: FrameHash[]) =>
  writeTransaction(ctx.pool, (tx) =>
    insertMediaHashes(tx, { evidenceId, sourceId: sourceOf.get(evidenceId)! }, frames),
  );

describe('the multi-index probes', () => {
  it('every hash within the distance shares a probed segment token (pigeonhole), for radius 0 to 2', () => {
    for (const distance of [15, 31, 47]) {
      for (let i = 0; i < 200; i++) {
        const q = randomHash();
        const near = flip(q, distance - (i % 4));
        const probes = new Set(probeTokens(q, distance));
        expect(segmentTokens(near).some((t) => probes.has(t))).toBe(true);
      }
    }
    expect(probeTokens(randomHash(), 31)).toHaveLength(16 * 17);
    expect(new Set(segmentTokens(randomHash()).map((t) => t >>> 16))).toEqual(new Set([...Array(16).keys()]));
  });
});

describe('findSimilarHashes', () => {
  it('finds exactly what a brute-force scan finds: 31 bits in, 32 out', async () => {
    const { items } = await investigationWithItems(400);
    const query = randomHash();
    // Planted around the query at every distance from 0 to 40, and 360 random hashes (≈128 bits away).
    const planted = new Map<string, string>();
    for (let d = 0; d <= 40; d++) planted.set(items[d]!, flip(query, d));
    for (const id of items.slice(41)) planted.set(id, randomHash());
    for (const [id, hash] of planted) await store(id, [{ second: 0, hash, quality: 80 }]);

    const hits = await findSimilarHashes(ctx.pool, [query], { investigationIds: [] });
    expect(hits).toEqual([]); // no investigation visible: nothing
    const found = await findSimilarHashes(ctx.pool, [query], { limit: 10_000 });
    const expected = [...planted]
      .map(([id, hash]) => ({ id, d: hammingDistance(query, hash) }))
      .filter((x) => x.d <= PDQ_MATCH_DISTANCE);
    const mine = found.filter((h) => planted.has(h.evidenceId));
    expect(mine.map((h) => h.evidenceId).sort()).toEqual(expected.map((x) => x.id).sort());
    expect(mine.map((h) => h.distance)).toEqual([...Array(32).keys()]); // nearest first, 0 … 31
    expect(mine[5]).toMatchObject({
      evidenceId: items[5],
      second: 0,
      quality: 80,
      query: 0,
      hash: planted.get(items[5]!),
    });

    const wider = await findSimilarHashes(ctx.pool, [query], { distance: 40, limit: 10_000 });
    expect(wider.filter((h) => planted.has(h.evidenceId)).map((h) => h.distance)).toEqual([
      ...Array(41).keys(),
    ]);
    const narrow = await findSimilarHashes(ctx.pool, [query], { distance: 0 });
    expect(narrow.filter((h) => planted.has(h.evidenceId)).map((h) => h.evidenceId)).toEqual([items[0]]);
  });

  it('only searches the investigations given, and leaves out the item asked about', async () => {
    const mine = await investigationWithItems(2);
    const theirs = await investigationWithItems(1);
    const hash = randomHash();
    await store(mine.items[0]!, [{ second: 0, hash, quality: 90 }]);
    await store(mine.items[1]!, [{ second: 0, hash: flip(hash, 3), quality: 90 }]);
    await store(theirs.items[0]!, [{ second: 0, hash: flip(hash, 1), quality: 90 }]);

    const all = await findSimilarHashes(ctx.pool, [hash]);
    expect(all.map((h) => h.evidenceId)).toEqual(expect.arrayContaining([...mine.items, ...theirs.items]));
    const visible = await findSimilarHashes(ctx.pool, [hash], { investigationIds: [mine.investigationId] });
    expect(visible.map((h) => [h.evidenceId, h.distance])).toEqual([
      [mine.items[0], 0],
      [mine.items[1], 3],
    ]);
    const others = await findSimilarHashes(ctx.pool, [hash], {
      investigationIds: [mine.investigationId],
      excludeEvidenceId: mine.items[0],
    });
    expect(others.map((h) => h.evidenceId)).toEqual([mine.items[1]]);
  });

  it('stores each hash with its source’s investigation, and leaves out a whole source when asked', async () => {
    const { investigationId, sources, items } = await investigationWithItems(4, 2); // 0, 2 | 1, 3
    const hash = randomHash();
    for (const [i, id] of items.entries()) await store(id, [{ second: 0, hash: flip(hash, i), quality: 90 }]);
    const { rows } = await ctx.pool.query<{ investigation_id: string }>(
      'SELECT DISTINCT investigation_id FROM media_hashes WHERE evidence_id = ANY($1::uuid[])',
      [items],
    );
    expect(rows).toEqual([{ investigation_id: investigationId }]);
    // The copy stays right: a source never moves to another investigation, nor an item to
    // another source (the database refuses; writing the same value is no move).
    const other = await investigationWithItems(1);
    await expect(
      ctx.pool.query('UPDATE sources SET investigation_id = $1 WHERE id = $2', [
        other.investigationId,
        sources[0],
      ]),
    ).rejects.toThrow(/sources rows do not move: investigation_id is fixed once written/);
    await expect(
      ctx.pool.query('UPDATE evidence_items SET source_id = $1 WHERE id = $2', [other.sources[0], items[0]]),
    ).rejects.toThrow(/evidence_items rows do not move: source_id is fixed once written/);
    await ctx.pool.query('UPDATE sources SET investigation_id = investigation_id WHERE id = $1', [
      sources[0],
    ]);

    // A capture's matches: other sources of its investigation only (match-checks.ts).
    const elsewhere = await findSimilarHashes(ctx.pool, [hash], {
      investigationIds: [investigationId],
      excludeEvidenceId: items[0],
      excludeSourceId: sources[0],
    });
    expect(elsewhere.map((h) => [h.evidenceId, h.distance])).toEqual([
      [items[1], 1],
      [items[3], 3],
    ]);
    // Without an investigation filter too (an admin's search).
    const unfiltered = await findSimilarHashes(ctx.pool, [hash], {
      excludeSourceId: sources[1],
      limit: 10_000,
    });
    const here = unfiltered.filter((h) => items.includes(h.evidenceId)).map((h) => h.evidenceId);
    expect(here).toEqual([items[0], items[2]]);
  });

  it('searches all of a video’s seconds at once, says which query each hit is near, skips low quality', async () => {
    const { investigationId, items } = await investigationWithItems(2);
    const seconds = Array.from({ length: 5 }, randomHash);
    await store(
      items[0]!,
      seconds.map((hash, second) => ({ second, hash, quality: second === 4 ? 10 : 70 })),
    );
    const copy = seconds.map((h) => flip(h, 6));
    const hits = await findSimilarHashes(ctx.pool, copy, { investigationIds: [investigationId] });
    expect(hits.map((h) => [h.query, h.second, h.distance]).sort()).toEqual(
      [0, 1, 2, 3, 4].map((s) => [s, s, 6]).sort(),
    );
    const good = await findSimilarHashes(ctx.pool, copy, {
      investigationIds: [investigationId],
      minQuality: 50,
    });
    expect(good.map((h) => h.second).sort()).toEqual([0, 1, 2, 3]);
  });

  it('refuses a malformed hash or distance before running anything', async () => {
    await expect(findSimilarHashes(ctx.pool, ['xyz'])).rejects.toThrow(RangeError);
    await expect(findSimilarHashes(ctx.pool, [randomHash()], { distance: 64 })).rejects.toThrow(RangeError);
    await expect(findSimilarHashes(ctx.pool, [randomHash()], { distance: 1.5 })).rejects.toThrow(RangeError);
    const { items } = await investigationWithItems(1);
    await expect(store(items[0]!, [{ second: 0, hash: 'F'.repeat(64), quality: 1 }])).rejects.toThrow(
      RangeError,
    );
    expect(await mediaHashesOf(ctx.pool, items[0]!)).toEqual([]);
  });
});

describe('hashEvidence', () => {
  const blobs = new LocalBlobStore(join(dir, 'blobs'));
  const put = async (path: string) => (await blobs.put(createReadStream(path))).sha256;

  it('hashes an image once and a video once a second, stored and read back as computed', async () => {
    const { items } = await investigationWithItems(3);
    const photo = await put(vectorPath(vector('bridge-1-original').file));
    const image = await hashEvidence({ blobs }, { sha256: photo, mediaType: 'image/jpeg' });
    expect(image).toMatchObject({
      kind: 'image',
      algorithm: 'pdq',
      decoder: expect.stringMatching(/^sharp /),
    });
    expect(image!.frames).toHaveLength(1);
    expect(hammingDistance(image!.frames[0]!.hash, vector('bridge-1-original').pdq)).toBeLessThanOrEqual(16);

    const video = await put(join(mediaFixtures, 'zelenskyy-31s.mp4'));
    const ffmpegPath = await testFfmpeg();
    const clip = await hashEvidence({ blobs, ffmpegPath }, { sha256: video, mediaType: 'video/mp4' });
    expect(clip!.kind).toBe('video');
    expect(clip!.frames.map((f) => f.second)).toEqual([...Array(31).keys()]);

    await store(items[0]!, image!.frames);
    await store(items[1]!, clip!.frames);
    expect(await mediaHashesOf(ctx.pool, items[0]!)).toEqual(image!.frames);
    expect(await mediaHashesOf(ctx.pool, items[1]!)).toEqual(clip!.frames);
    // A second write of the same hashes (a retried capture) changes nothing.
    expect(await store(items[1]!, clip!.frames)).toBe(0);

    // The event's part: plain JSON that reads back to the same hashes.
    const data = pdqEventData(clip!);
    expect(JSON.parse(JSON.stringify(data))).toEqual({
      algorithm: 'pdq',
      kind: 'video',
      decoder: 'ffmpeg',
      frames: clip!.frames,
    });

    const audio = await put(join(mediaFixtures, 'tone-5s.m4a'));
    expect(await hashEvidence({ blobs, ffmpegPath }, { sha256: audio, mediaType: 'audio/mp4' })).toBeNull();
    const page = await put(join(mediaFixtures, 'page.html'));
    expect(await hashEvidence({ blobs }, { sha256: page, mediaType: 'text/html' })).toBeNull();
    // Declared an image, is not one: an error naming why, nothing to store.
    await expect(hashEvidence({ blobs }, { sha256: page, mediaType: 'image/png' })).rejects.toMatchObject({
      name: 'ImageDecodeError',
    });
  });
});
