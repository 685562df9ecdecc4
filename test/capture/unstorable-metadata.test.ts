// Text PostgreSQL cannot hold (NUL, lone UTF-16 surrogates) in what a hostile source or an
// uploader's file name carries: the capture and the upload succeed through the real worker
// and route, the metadata (row and ledger event) holds the characters as literal escapes
// (`\u0000`, `\ud800`) with `textEscaped: true`, and the blob keeps the raw bytes. Before, the
// jsonb write failed: the capture was retried 5 times and ended failed internal_error, and
// the upload answered 500 leaving an orphan blob.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { type Route, serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { custody, ofType, ownBlobDir, partialFiles, storedBlobs } from './support.ts';

// A raw NUL in the title and a meta tag; in the JSON-LD a \u0000 escape (in a value and a
// key) and a lone high surrogate (a page's bytes decode to U+FFFD there, JSON-LD escapes do not).
const page = [
  '<!doctype html><html><head>',
  '<title>Breaking\u0000news</title>',
  '<meta property="og:title" content="og\u0000title">',
  '<script type="application/ld+json">{"headline":"a\\u0000b\\ud800c","k\\u0000":1}</script>',
  '</head><body>hostile page</body></html>',
].join('');
const pageBytes = Buffer.from(page, 'utf8');

// The EXIF fixture (scripts/make-exif-jpeg.mjs) with a NUL inside Model and Software.
const photo = Buffer.from(readFileSync(new URL('../fixtures/media/photo-exif.jpg', import.meta.url)));
photo[photo.indexOf('Canon EOS R6') + 5] = 0;
photo[photo.indexOf('claimtrail fixture 1.0') + 10] = 0;

const bytes =
  (body: Buffer, type: string): Route =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) }).end(body);
  };

const server = await useFixtureServer({
  '/page': serveText(page),
  '/photo.jpg': bytes(photo, 'image/jpeg'),
  '/plain': serveText('<html><head><title>Plain</title></head></html>'),
  '/gone': (_req, res) => res.writeHead(404).end(),
});
const blobDir = ownBlobDir('unstorable');
const env = await useCaptureEnv({ FETCH_ALLOWLIST: server.host, BLOB_DIR: blobDir });
const { app, as, editor, cite, settled } = env;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function content(itemId: string): Promise<Buffer> {
  const res = await request(app)
    .get(`/v1/evidence/${itemId}/content`)
    .set(as(editor))
    .buffer(true)
    .parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
  expect(res.status).toBe(200);
  return res.body as Buffer;
}

/** The metadata_extracted event of an item: the ledger holds the same escaped metadata. */
async function extractedEvent(sourceId: string, evidenceId: string) {
  const events = ofType(await custody(env, sourceId), 'metadata_extracted');
  const event = events.find((e) => e.data.evidenceId === evidenceId);
  expect(event).toBeDefined();
  return event!.data.metadata as Record<string, unknown>;
}

describe('captured metadata with text Postgres refuses', () => {
  it('a page whose title, meta tags and JSON-LD hold NUL and a lone surrogate is captured, escaped', async () => {
    const { source } = await cite(`${server.origin}/page`);
    const view = await settled(source.id);
    expect(view.status, JSON.stringify(view.failure)).toBe('captured');
    expect(view.evidence).toHaveLength(1);
    const item = view.evidence[0];
    expect(item.kind).toBe('page');
    expect(item.metadata).toMatchObject({
      textEscaped: true,
      title: 'Breaking\\u0000news',
      openGraph: { 'og:title': 'og\\u0000title' },
      jsonLd: [{ headline: 'a\\u0000b\\ud800c', 'k\\u0000': 1 }],
    });
    expect(await extractedEvent(source.id, item.id)).toEqual(item.metadata);
    // The raw bytes are untouched: what is served is what the page sent.
    const served = await content(item.id);
    expect(served.equals(pageBytes)).toBe(true);
    expect(item.sha256).toBe(sha256(pageBytes));
    // One attempt, no retries: nothing failed.
    expect(ofType(await custody(env, source.id), 'capture_failed')).toEqual([]);
  });

  it('a JPEG whose EXIF text holds NUL is captured, escaped', async () => {
    const { source } = await cite(`${server.origin}/photo.jpg`);
    const view = await settled(source.id);
    expect(view.status, JSON.stringify(view.failure)).toBe('captured');
    const item = view.evidence[0];
    expect(item.kind).toBe('image');
    expect(item.metadata).toMatchObject({
      textEscaped: true,
      exif: { make: 'Canon', model: 'Canon\\u0000EOS R6', software: 'claimtrail\\u0000fixture 1.0' },
    });
    expect(await extractedEvent(source.id, item.id)).toEqual(item.metadata);
    expect((await content(item.id)).equals(photo)).toBe(true);
  });

  it('clean metadata carries no marker', async () => {
    const { source } = await cite(`${server.origin}/plain`);
    const view = await settled(source.id);
    expect(view.status).toBe('captured');
    expect(view.evidence[0].metadata.title).toBe('Plain');
    expect(view.evidence[0].metadata).not.toHaveProperty('textEscaped');
  });

  it('an upload whose file name holds NUL or a lone surrogate: 201, the name stored escaped', async () => {
    const { source } = await cite(`${server.origin}/gone`);
    await settled(source.id);
    const cases = [
      // RFC 5987 filename*: busboy decodes %00 to NUL and UTF-16 bytes 00 D8 to a lone U+D800.
      [`filename*=UTF-8''report%00final.txt`, 'report\\u0000final.txt', 'first upload'],
      [`filename*=utf-16le''%00%D8x%00`, '\\ud800x', 'second upload'],
    ] as const;
    for (const [disposition, stored, text] of cases) {
      const file = Buffer.from(text);
      const body = Buffer.from(
        `--B\r\nContent-Disposition: form-data; name="file"; ${disposition}\r\nContent-Type: text/plain\r\n\r\n${text}\r\n--B--\r\n`,
        'latin1',
      );
      const res = await request(app)
        .post(`/v1/sources/${source.id}/evidence`)
        .set(as(editor))
        .set('Content-Type', 'multipart/form-data; boundary=B')
        .send(body);
      expect(res.status, res.text).toBe(201);
      expect(res.body.metadata).toMatchObject({ filename: stored, textEscaped: true });
      expect(await extractedEvent(source.id, res.body.id)).toEqual(res.body.metadata);
      expect((await content(res.body.id)).equals(file)).toBe(true);
      expect(storedBlobs(blobDir)).toContain(sha256(file));
    }
    expect(partialFiles(blobDir)).toEqual([]);
  });
});
