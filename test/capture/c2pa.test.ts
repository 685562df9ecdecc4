// C2PA in the capture and upload paths (issue 17): a captured signed JPEG is described with its
// manifest (metadata.c2pa in the metadata_extracted event and the evidence view) and gets a
// passed `c2pa` check; a tampered copy gets a failed one with the data-hash code; a plain image
// an `absent` one; an upload is read the same way. C2PA_TRUST_ANCHORS is the test's own CA.
import sharp from 'sharp';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { verifiedClaimBag } from '../helpers/export-download.ts';
import { serveBytes, useFixtureServer } from '../helpers/fixture-server.ts';
import { makeTestSigner, signImage, tamperImageData } from '../media/c2pa-fixture.ts';
import { scratchDir } from '../media/media-tools.ts';
import { custody, ofType, ownBlobDir } from './support.ts';

const signer = await makeTestSigner(await scratchDir());
const plain = await sharp({ create: { width: 80, height: 60, channels: 3, background: '#2060a0' } })
  .jpeg()
  .toBuffer();
const signed = await signImage(signer, plain, 'image/jpeg', { title: 'harbour.jpg' });
const tampered = tamperImageData(signed);

const server = await useFixtureServer({
  '/signed.jpg': serveBytes(signed, 'image/jpeg'),
  '/tampered.jpg': serveBytes(tampered, 'image/jpeg'),
  '/plain.jpg': serveBytes(plain, 'image/jpeg'),
});
const env = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  BLOB_DIR: ownBlobDir('c2pa'),
  C2PA_TRUST_ANCHORS: signer.caPemPath,
});
const { app, as, editor, cite, settled } = env;

interface C2paCheck {
  name: string;
  expected: unknown;
  observed: { state: string; reasons: string[] };
  passed: boolean;
}

async function captured(path: string) {
  const { source, claimId } = await cite(`${server.origin}${path}`);
  expect((await settled(source.id)).status).toBe('captured');
  const events = await custody(env, source.id);
  const [extracted] = ofType(events, 'metadata_extracted');
  const item = await env.ctx.prisma.evidenceItem.findFirstOrThrow({ where: { sourceId: source.id } });
  const view = await request(app).get(`/v1/evidence/${item.id}`).set(as(editor));
  expect(view.status, view.text).toBe(200);
  return {
    claimId: claimId as string,
    sourceId: source.id as string,
    events,
    eventC2pa: (extracted!.data as { metadata: { c2pa?: Record<string, unknown> } }).metadata.c2pa,
    view: view.body as { metadata: { c2pa?: Record<string, unknown> }; checks: C2paCheck[] },
  };
}

const c2paChecks = (checks: C2paCheck[]) => checks.filter((c) => c.name === 'c2pa');

describe('C2PA manifests read on ingest', () => {
  it('a captured signed image: the manifest in custody and the view, a passed c2pa check', async () => {
    const { events, eventC2pa, view } = await captured('/signed.jpg');
    expect(eventC2pa).toMatchObject({
      state: 'valid',
      trusted: true,
      claimGenerator: 'claimtrail-test 1.0',
      title: 'harbour.jpg',
      signer: { commonName: signer.commonName, issuer: 'claimtrail tests' },
      actions: [{ action: 'c2pa.created' }],
    });
    expect(view.metadata.c2pa).toEqual(eventC2pa);
    expect(c2paChecks(view.checks)).toEqual([
      { name: 'c2pa', expected: 'valid or absent', observed: { state: 'valid', reasons: [] }, passed: true },
    ]);
    const passed = ofType(events, 'check_passed').map((e) => (e.data as { check: C2paCheck }).check);
    expect(c2paChecks(passed)).toHaveLength(1);
  });

  it('a tampered copy: a failed c2pa check with the data-hash mismatch code', async () => {
    const { events, eventC2pa, view } = await captured('/tampered.jpg');
    expect(eventC2pa).toMatchObject({ state: 'invalid' });
    const [check] = c2paChecks(view.checks);
    expect(check).toMatchObject({ passed: false, observed: { state: 'invalid' } });
    expect(check!.observed.reasons).toContain('assertion.dataHash.mismatch');
    const failed = ofType(events, 'check_failed').map((e) => (e.data as { check: C2paCheck }).check);
    expect(c2paChecks(failed)).toEqual([check]);
  });

  it('a tampered item’s export carries the manifest and the check, and passes verify-export', async () => {
    const { claimId, sourceId } = await captured('/tampered.jpg');
    const bag = await verifiedClaimBag(app, as(editor), claimId);
    expect(bag.problems).toEqual([]);
    const chain = bag.sourceChain(sourceId);
    expect(chain).toContain('assertion.dataHash.mismatch');
    expect(chain).toContain('"claimGenerator":"claimtrail-test 1.0"');
  });

  it('a plain image: c2pa absent', async () => {
    const { eventC2pa, view } = await captured('/plain.jpg');
    expect(eventC2pa).toMatchObject({ state: 'absent' });
    expect(c2paChecks(view.checks)).toMatchObject([{ observed: { state: 'absent' }, passed: true }]);
  });

  it('an upload of the signed image is read the same way', async () => {
    const { sourceId } = await captured('/plain.jpg');
    const res = await request(app)
      .post(`/v1/sources/${sourceId}/evidence`)
      .set(as(editor))
      .attach('file', signed, { filename: 'harbour.jpg', contentType: 'image/jpeg' });
    expect(res.status, res.text).toBe(201);
    expect(res.body.metadata.c2pa).toMatchObject({
      state: 'valid',
      trusted: true,
      signer: { commonName: signer.commonName },
    });
    expect(c2paChecks(res.body.checks)).toMatchObject([{ observed: { state: 'valid' }, passed: true }]);
  });
});
