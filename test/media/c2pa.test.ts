// The C2PA adapter (src/media/c2pa.ts) against a manifest signed in the test: an EC P-256 CA
// and signer from openssl, a JPEG and a PNG from sharp, the Builder with a node:crypto ES256
// callback (c2pa-fixture.ts). Valid and trusted with the CA as anchor, valid but untrusted
// without it, invalid with the data-hash code after one byte of the image data changes,
// absent for a plain image; no request leaves the reader even when the manifest is remote.

import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readC2pa } from '../../src/media/c2pa.ts';
import { c2paCheck, loadC2paTrustAnchors } from '../../src/media/c2pa-evidence.ts';
import { checkWords } from '../../src/web/words.ts';
import { coseSign1, makeTestSigner, signImage, type TestSigner, tamperImageData } from './c2pa-fixture.ts';
import { scratchDir } from './media-tools.ts';

let dir: string;
let signer: TestSigner;
let anchors: string;
let plainJpeg: Buffer;
let signedJpeg: Buffer;

beforeAll(async () => {
  dir = await scratchDir();
  signer = await makeTestSigner(dir);
  anchors = await loadC2paTrustAnchors(signer.caPemPath);
  plainJpeg = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#c83232' } })
    .jpeg()
    .toBuffer();
  signedJpeg = await signImage(signer, plainJpeg, 'image/jpeg', { title: 'harbour.jpg' });
}, 60_000);

async function read(bytes: Buffer, mediaType: string, trustAnchorsPem = anchors, name = 'asset') {
  const path = join(dir, `${name}-${Math.random().toString(36).slice(2)}`);
  await writeFile(path, bytes);
  return readC2pa(path, mediaType, { trustAnchorsPem });
}

describe('reading C2PA manifests', () => {
  it('a signed JPEG: valid and trusted with the test CA as anchor; generator, signer, actions', async () => {
    const c2pa = await read(signedJpeg, 'image/jpeg');
    expect(c2pa).toMatchObject({
      tool: expect.stringMatching(/^@contentauth\/c2pa-wasm 0\.15\.0$/),
      state: 'valid',
      trusted: true,
      validationState: 'Trusted',
      reasons: [],
      claimGenerator: 'claimtrail-test 1.0',
      title: 'harbour.jpg',
      signer: { issuer: 'claimtrail tests', commonName: signer.commonName, alg: 'Es256' },
      actions: [
        {
          action: 'c2pa.created',
          digitalSourceType: 'http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture',
        },
      ],
      ingredients: [],
    });
    expect(c2pa!.activeManifest).toMatch(/^urn:c2pa:/);
    expect(c2paCheck({ c2pa })).toEqual([
      { name: 'c2pa', expected: 'valid or absent', observed: { state: 'valid', reasons: [] }, passed: true },
    ]);
  });

  it('without trust anchors the same file is valid but not trusted', async () => {
    const c2pa = await read(signedJpeg, 'image/jpeg', '');
    expect(c2pa).toMatchObject({ state: 'valid', trusted: false, reasons: [] });
    expect(c2pa!.statusCodes).toContain('signingCredential.untrusted');
  });

  it('a signed PNG reads the same way', async () => {
    const png = await sharp(plainJpeg).png().toBuffer();
    const c2pa = await read(await signImage(signer, png, 'image/png'), 'image/png');
    expect(c2pa).toMatchObject({ state: 'valid', trusted: true });
  });

  it('one byte of the image data changed: invalid, with the data-hash mismatch code', async () => {
    const c2pa = await read(tamperImageData(signedJpeg), 'image/jpeg');
    expect(c2pa).toMatchObject({ state: 'invalid', trusted: false, validationState: 'Invalid' });
    expect(c2pa!.reasons).toContain('assertion.dataHash.mismatch');
    // The manifest itself is intact, so what it says is still reported.
    expect(c2pa).toMatchObject({
      claimGenerator: 'claimtrail-test 1.0',
      signer: { commonName: signer.commonName },
    });
    const [check] = c2paCheck({ c2pa });
    expect(check).toMatchObject({ name: 'c2pa', passed: false, observed: { state: 'invalid' } });
    expect((check!.observed as { reasons: string[] }).reasons).toContain('assertion.dataHash.mismatch');
    // The web app's words for it.
    expect(checkWords(check!)).toMatchObject({
      label: 'C2PA manifest',
      text: 'the manifest does not verify: assertion.dataHash.mismatch',
      mark: '✗',
    });
  });

  it('a signature by a key other than the certificate’s: invalid', async () => {
    const other = await makeTestSigner(await scratchDir(), 'someone else');
    const forged = await signImage({ ...signer, key: other.key }, plainJpeg, 'image/jpeg');
    const c2pa = await read(forged, 'image/jpeg');
    expect(c2pa).toMatchObject({ state: 'invalid' });
    expect((c2pa!.reasons as string[]).some((r) => r.startsWith('claimSignature.'))).toBe(true);
  });

  it('a plain image: absent, and a check that passes', async () => {
    const c2pa = await read(plainJpeg, 'image/jpeg');
    expect(c2pa).toEqual({ tool: expect.any(String), state: 'absent' });
    expect(c2paCheck({ c2pa })).toEqual([
      { name: 'c2pa', expected: 'valid or absent', observed: { state: 'absent', reasons: [] }, passed: true },
    ]);
    expect(checkWords(c2paCheck({ c2pa })[0]!).text).toBe('no manifest in the file');
  });

  it('other media types are not opened; broken and oversized files are recorded, never thrown', async () => {
    expect(await read(Buffer.from('<html></html>'), 'text/html')).toBeUndefined();
    expect(await read(Buffer.from('ID3....'), 'audio/mpeg')).toBeUndefined();
    // A JPEG cut inside its manifest segment.
    const cut = await read(signedJpeg.subarray(0, 400), 'image/jpeg');
    expect(['absent', 'unread', 'invalid']).toContain(cut!.state);
    const junk = await read(
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xeb, 0xff, 0xff]), Buffer.alloc(64, 7)]),
      'image/jpeg',
    );
    expect(junk).toMatchObject({ state: 'unread', error: expect.stringMatching(/InvalidAsset/) });
    const path = join(dir, 'big.jpg');
    await writeFile(path, signedJpeg);
    expect(await readC2pa(path, 'image/jpeg', { trustAnchorsPem: '', maxBytes: 100 })).toEqual({
      tool: expect.any(String),
      state: 'unread',
      error: 'larger than 100 bytes',
    });
    expect(c2paCheck({ c2pa: { state: 'unread' } })).toEqual([]);
    expect(c2paCheck({})).toEqual([]);
  });

  it('a C2PA_TRUST_ANCHORS file that is missing or holds no certificate is named', async () => {
    await expect(loadC2paTrustAnchors(join(dir, 'nope.pem'))).rejects.toThrow(
      /C2PA_TRUST_ANCHORS .*nope\.pem/,
    );
    const empty = join(dir, 'empty.pem');
    await writeFile(empty, 'not a certificate\n');
    await expect(loadC2paTrustAnchors(empty)).rejects.toThrow(/holds no PEM certificate/);
    expect(await loadC2paTrustAnchors('')).toBe('');
  });
});

describe('no network from the reader', () => {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/c2pa' }).end(Buffer.alloc(0));
  });
  const realFetch = globalThis.fetch;
  const fetched: string[] = [];
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // The wasm's only way out is the global fetch (its JS glue imports it); count any call.
    globalThis.fetch = ((input: Parameters<typeof fetch>[0]) => {
      fetched.push(String(input));
      return realFetch(input);
    }) as typeof fetch;
  });
  afterAll(async () => {
    globalThis.fetch = realFetch;
    await new Promise((resolve) => server.close(resolve));
  });

  it('a manifest kept at a remote URL is not fetched: recorded as unread with its URL', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/manifest.c2pa`;
    const remote = await signImage(signer, plainJpeg, 'image/jpeg', { remoteUrl: url });
    expect(remote.includes(Buffer.from(url))).toBe(true); // the asset points at the remote manifest
    const read1 = await read(remote, 'image/jpeg');
    expect(read1).toEqual({
      tool: expect.any(String),
      state: 'unread',
      remoteManifestUrl: url,
      error: 'manifest kept at a remote URL, not fetched',
    });
    expect(hits).toEqual([]);
    expect(fetched).toEqual([]);
  });
});

// Keeps the fixture's COSE padding honest for sizes around the CBOR length boundaries.
describe('the test signer', () => {
  it('pads a COSE_Sign1 to exactly the reserved size', () => {
    for (const size of [2000, 2023, 2024, 2279, 2280, 10_000])
      expect(coseSign1(signer, Buffer.from('claim'), size)).toHaveLength(size);
  });
});
