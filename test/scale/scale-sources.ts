// What the scale run cites: n sources on one loopback fixture server, a fixed mix of kinds so
// that both a small run and the full one exercise every capture path through S3:
//   - item  (7 in 10): 100 KB of bytes of its own (seeded by its index: no two alike);
//   - page  (2 in 10): an HTML page of its own that declares an image (og:image), so the
//     capture fetches and stores two items and the image becomes its primary item;
//   - video (1 in 10): the 31-second fixture video (ffprobe, per-second perceptual hashes);
//     the same bytes for every video source, so S3 sees many writers of one object.
// How many `stored` events each kind must produce is part of the check (expectedStored).
import { fileURLToPath } from 'node:url';
import { type Route, serveBytes, serveFile, serveText } from '../helpers/fixture-server.ts';
import { mulberry32 } from '../helpers/prng.ts';

export type SourceKind = 'item' | 'page' | 'video';

export interface ScaleSource {
  index: number;
  kind: SourceKind;
  /** The cited path on the fixture server. */
  path: string;
}

const media = (name: string) => fileURLToPath(new URL(`../fixtures/media/${name}`, import.meta.url));
export const VIDEO_FILE = media('zelenskyy-31s.mp4');
export const IMAGE_FILE = media('image.png');
export const ITEM_BYTES = 100_000;

export function kindOf(index: number): SourceKind {
  const r = index % 10;
  return r === 0 ? 'video' : r === 3 || r === 7 ? 'page' : 'item';
}

export function scaleSources(n: number): ScaleSource[] {
  return Array.from({ length: n }, (_, index) => {
    const kind = kindOf(index);
    const path =
      kind === 'item'
        ? `/item/${index}.bin`
        : kind === 'page'
          ? `/page/${index}.html`
          : `/video/${index}.mp4`;
    return { index, kind, path };
  });
}

/** Items stored per capture of a source of this kind (a page: the page and its image). */
export const expectedStored: Record<SourceKind, number> = { item: 1, page: 2, video: 1 };

/** The item's bytes: its own, the same on every request (a retried fetch stores the same hash). */
export function itemBytes(index: number): Buffer {
  const next = mulberry32(0x5ca1e000 + index);
  const out = Buffer.allocUnsafe(ITEM_BYTES);
  for (let at = 0; at + 4 <= ITEM_BYTES; at += 4) out.writeUInt32LE(next(), at);
  return out;
}

export function pageHtml(index: number): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Scale run page ${index}</title>
  <meta property="og:title" content="Scale run page ${index}">
  <meta property="og:image" content="/img/${index}.png">
</head>
<body><p>Page ${index} of the scale run: a report that cites a picture.</p></body>
</html>
`;
}

/** The fixture server's routes for `sources` (and each page's image). */
export function scaleRoutes(sources: readonly ScaleSource[]): Record<string, Route> {
  const routes: Record<string, Route> = {};
  const video = serveFile(VIDEO_FILE, 'video/mp4');
  const image = serveFile(IMAGE_FILE, 'image/png');
  for (const { index, kind, path } of sources) {
    if (kind === 'video') routes[path] = video;
    else if (kind === 'item') routes[path] = (req, res) => serveBytes(itemBytes(index))(req, res);
    else {
      routes[path] = serveText(pageHtml(index));
      routes[`/img/${index}.png`] = image;
    }
  }
  return routes;
}
