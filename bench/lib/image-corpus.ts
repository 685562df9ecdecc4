// The pictures `bench media` hashes: JPEGs from 1 to 12 MP (sizes spread evenly, 4:3 and 3:2),
// each a smooth colour gradient under fine noise, so the decoder has real entropy to chew on
// like a photo's. Made once and kept in a temp directory: making 1,000 of them takes minutes,
// reading them back a second.
import { mkdir, rename, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { mulberry32 } from '../../test/helpers/prng.ts';

export interface CorpusImage {
  path: string;
  width: number;
  height: number;
}

/** Bump when the pictures change, so an old cache is not measured as the new one. */
const CORPUS_VERSION = 1;
export const CORPUS_DIR = join(tmpdir(), `claimtrail-bench-media-v${CORPUS_VERSION}`);

const MIN_MP = 1;
const MAX_MP = 12;
const NOISE_SIDE = 256;

/** Image i of n: its size, spread evenly over 1–12 MP (the same for a given n on every run). */
export function corpusSize(i: number, n: number): { width: number; height: number } {
  const mp = n === 1 ? MAX_MP : MIN_MP + ((MAX_MP - MIN_MP) * i) / (n - 1);
  const aspect = i % 2 === 0 ? 4 / 3 : 3 / 2;
  const width = Math.round(Math.sqrt(mp * 1e6 * aspect));
  return { width, height: Math.round(width / aspect) };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function makeImage(path: string, width: number, height: number, seed: number): Promise<void> {
  const next = mulberry32(seed);
  // A 4×3 grid of random colours blown up (bilinear) is a smooth gradient at any size.
  const corners = Buffer.from(Array.from({ length: 4 * 3 * 3 }, () => next() & 0xff));
  const gradient = await sharp(corners, { raw: { width: 4, height: 3, channels: 3 } })
    .resize(width, height, { kernel: 'linear', fit: 'fill' })
    .raw()
    .toBuffer();
  const noise = Buffer.from(Array.from({ length: NOISE_SIDE * NOISE_SIDE * 3 }, () => next() & 0xff));
  const tmp = `${path}.${process.pid}.tmp`;
  await sharp(gradient, { raw: { width, height, channels: 3 } })
    .composite([
      {
        input: noise,
        raw: { width: NOISE_SIDE, height: NOISE_SIDE, channels: 3 },
        tile: true,
        blend: 'soft-light',
      },
    ])
    .jpeg({ quality: 85 })
    .toFile(tmp);
  await rename(tmp, path);
}

/** The n pictures, made where missing; `made` says how many had to be made this time. */
export async function imageCorpus(n: number): Promise<{ images: CorpusImage[]; made: number }> {
  await mkdir(CORPUS_DIR, { recursive: true });
  const images: CorpusImage[] = [];
  let made = 0;
  for (let i = 0; i < n; i++) {
    const { width, height } = corpusSize(i, n);
    const path = join(CORPUS_DIR, `${String(i).padStart(4, '0')}-${width}x${height}.jpg`);
    if (!(await exists(path))) {
      await makeImage(path, width, height, 17_000 + i);
      made++;
    }
    images.push({ path, width, height });
  }
  return { images, made };
}
