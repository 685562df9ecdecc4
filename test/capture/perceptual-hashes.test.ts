// Perceptual hashes in the capture path (issue 17): a captured image is hashed with PDQ as it
// is described, the hash rows are written in the statement that records the item, the
// metadata_extracted event carries them, and GET /v1/evidence/:id/similar then finds a
// re-encoded copy captured from another source of the same investigation.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { mediaHashesOf } from '../../src/media/pdq-store.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { serveBytes, serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { vector, vectorPath } from '../media/media-tools.ts';
import { custody, ofType, ownBlobDir } from './support.ts';

const reference = vector('misc-images__c.png');
const original = readFileSync(vectorPath(reference.file));
// The same picture, re-encoded as a smaller JPEG: other bytes, nearly the same PDQ.
const copy = await sharp(original).resize({ width: 200 }).jpeg({ quality: 70 }).toBuffer();

const server = await useFixtureServer({
  '/original.png': serveBytes(original, 'image/png'),
  '/copy.jpg': serveBytes(copy, 'image/jpeg'),
  '/note.txt': serveText('not an image'),
});
const env = await useCaptureEnv({ FETCH_ALLOWLIST: server.host, BLOB_DIR: ownBlobDir('pdq') });
const { app, as, editor, cite, settled } = env;

describe('perceptual hashes of captured media', () => {
  it('hashes a captured image, records the hash in custody and stores it with the item', async () => {
    const { source } = await cite(`${server.origin}/original.png`);
    expect((await settled(source.id)).status).toBe('captured');
    const [extracted] = ofType(await custody(env, source.id), 'metadata_extracted');
    const pdq = (extracted!.data as { metadata: { pdq: { frames: { hash: string; quality: number }[] } } })
      .metadata.pdq;
    expect(pdq).toMatchObject({ algorithm: 'pdq', kind: 'image' });
    const [frame] = pdq.frames;
    const distance = [...Buffer.from(frame!.hash, 'hex')].reduce(
      (n, b, i) => n + popcount(b ^ Buffer.from(reference.pdq, 'hex')[i]!),
      0,
    );
    expect(distance).toBeLessThanOrEqual(16); // the reference hash of this very file
    const item = await env.ctx.prisma.evidenceItem.findFirstOrThrow({ where: { sourceId: source.id } });
    expect(await mediaHashesOf(env.ctx.pool, item.id)).toEqual([
      { second: 0, hash: frame!.hash, quality: frame!.quality },
    ]);
  });

  it('finds the re-encoded copy captured from another source as similar, not as the same bytes', async () => {
    const a = (await cite(`${server.origin}/original.png`)).source;
    const b = (await cite(`${server.origin}/copy.jpg`)).source;
    for (const s of [a, b]) expect((await settled(s.id)).status).toBe('captured');
    const itemOf = (sourceId: string) =>
      env.ctx.prisma.evidenceItem.findFirstOrThrow({ where: { sourceId } });
    const [itemA, itemB] = [await itemOf(a.id), await itemOf(b.id)];
    const res = await request(app).get(`/v1/evidence/${itemB.id}/similar`).set(as(editor));
    expect(res.status, res.text).toBe(200);
    const match = res.body.matches.find((m: { evidenceId: string }) => m.evidenceId === itemA.id);
    expect(match, JSON.stringify(res.body)).toMatchObject({ relation: 'similarTo', sourceId: a.id });
    expect(match.distance).toBeGreaterThan(0);
    expect(match.distance).toBeLessThanOrEqual(res.body.distance);
  });

  it('leaves what is neither image nor video unhashed', async () => {
    const { source } = await cite(`${server.origin}/note.txt`);
    expect((await settled(source.id)).status).toBe('captured');
    const [extracted] = ofType(await custody(env, source.id), 'metadata_extracted');
    expect((extracted!.data as { metadata: Record<string, unknown> }).metadata.pdq).toBeUndefined();
    const item = await env.ctx.prisma.evidenceItem.findFirstOrThrow({ where: { sourceId: source.id } });
    expect(await mediaHashesOf(env.ctx.pool, item.id)).toEqual([]);
  });
});

function popcount(n: number): number {
  let c = 0;
  for (let v = n; v; v &= v - 1) c++;
  return c;
}
