// PDQ against Meta's reference vectors (../shared/vectors/pdq: the hashes the reference
// implementation publishes for 18 images), the eight dihedral variants, the quality metric,
// decoding as a viewer sees the picture (EXIF orientation, transparency), and vPDQ frames of
// real videos decoded by ffmpeg.
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImageDecodeError, readRgb } from '../../src/media/image-pixels.ts';
import {
  DIHEDRAL,
  type Dihedral,
  hammingDistance,
  MIN_HASHABLE_DIM,
  PDQ_MATCH_DISTANCE,
  pdqDihedralFromPixels,
  pdqFromPixels,
} from '../../src/media/pdq.ts';
import { decodeFramesPerSecond, FrameSplitter, VideoDecodeError } from '../../src/media/video-frames.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { ffmpeg, mediaFixtures, scratchDir, testFfmpeg, vector, vectorPath, vectors } from './media-tools.ts';

async function hashFile(input: string | Buffer) {
  const image = await readRgb(input);
  return pdqFromPixels(image.pixels, image.width, image.height);
}

async function hashVideo(path: string) {
  const frames: { second: number; hash: string; quality: number }[] = [];
  await decodeFramesPerSecond(await testFfmpeg(), path, (f) => {
    frames.push({ second: f.second, ...pdqFromPixels(f.pixels, f.width, f.height) });
  });
  return frames;
}

const dir = await scratchDir();

describe('PDQ reference vectors', () => {
  it.each(vectors.vectors.map((v) => [v.file, v.pdq]))(
    '%s is within tolerance of the reference',
    async (file, pdq) => {
      const { hash, quality } = await hashFile(vectorPath(file));
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(hammingDistance(hash, pdq)).toBeLessThanOrEqual(vectors.tolerance_bits);
      expect(Number.isInteger(quality) && quality >= 0 && quality <= 100).toBe(true);
    },
  );

  it('every vector is nearer its own reference hash than any other vector', async () => {
    for (const v of vectors.vectors) {
      const { hash } = await hashFile(vectorPath(v.file));
      const others = vectors.vectors.filter((o) => o.file !== v.file && o.pdq !== v.pdq);
      const nearestOther = Math.min(...others.map((o) => hammingDistance(hash, o.pdq)));
      expect(nearestOther, v.file).toBeGreaterThan(hammingDistance(hash, v.pdq));
    }
  });

  // The dih/ images are one photo turned and mirrored. Each variant computed from the
  // original's DCT must land on the reference hash of that turned photo: within the match
  // distance, and nearer it than any other vector. (Not within 16: the reference README notes
  // that PDQ is not exactly rotation-invariant — the 64×64 sampling grid is not symmetric —
  // and the variants of the original are 2–18 bits from the hashes of the turned files.)
  const turned: Record<Dihedral, string> = {
    original: 'bridge-1-original',
    rotate90: 'bridge-2-rotate-90',
    rotate180: 'bridge-3-rotate-180',
    rotate270: 'bridge-4-rotate-270',
    flipX: 'bridge-5-flipx',
    flipY: 'bridge-6-flipy',
    flipPlus1: 'bridge-7-flip-plus-1',
    flipMinus1: 'bridge-8-flip-minus-1',
  };
  it('the eight dihedral variants of the original are the hashes of the turned photos', async () => {
    const image = await readRgb(vectorPath(vector('bridge-1-original').file));
    const { hashes, quality } = pdqDihedralFromPixels(image.pixels, image.width, image.height);
    expect(quality).toBe(100);
    expect(hashes.original).toBe(pdqFromPixels(image.pixels, image.width, image.height).hash);
    for (const name of DIHEDRAL) {
      const expected = vector(turned[name]).pdq;
      const distance = hammingDistance(hashes[name], expected);
      expect(distance, name).toBeLessThanOrEqual(PDQ_MATCH_DISTANCE);
      for (const other of vectors.vectors.filter((v) => v.pdq !== expected)) {
        expect(hammingDistance(hashes[name], other.pdq), `${name} vs ${other.file}`).toBeGreaterThan(
          distance,
        );
      }
    }
  });

  it('on a 64×64 picture (no resampling) each variant is exactly the hash of the moved pixels', () => {
    const n = 64;
    const next = mulberry32(17);
    const p = new Uint8Array(n * n);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        p[r * n + c] = Math.round(128 + 60 * Math.sin(r / 7) + 50 * Math.cos(c / 5 + r / 11) + (next() % 13));
      }
    }
    const moved: Record<Dihedral, (r: number, c: number) => number> = {
      original: (r, c) => p[r * n + c]!,
      rotate90: (r, c) => p[c * n + n - 1 - r]!, // counter-clockwise
      rotate180: (r, c) => p[(n - 1 - r) * n + n - 1 - c]!,
      rotate270: (r, c) => p[(n - 1 - c) * n + r]!, // clockwise
      flipX: (r, c) => p[(n - 1 - r) * n + c]!, // upside down
      flipY: (r, c) => p[r * n + n - 1 - c]!, // mirrored
      flipPlus1: (r, c) => p[c * n + r]!, // transposed
      flipMinus1: (r, c) => p[(n - 1 - c) * n + n - 1 - r]!,
    };
    const { hashes } = pdqDihedralFromPixels(p, n, n, 1);
    expect(new Set(Object.values(hashes)).size).toBe(8);
    for (const name of DIHEDRAL) {
      const q = new Uint8Array(n * n);
      for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) q[r * n + c] = moved[name](r, c);
      expect(pdqFromPixels(q, n, n, 1).hash, name).toBe(hashes[name]);
    }
  });
});

describe('PDQ quality', () => {
  it('counts significant steps: one black/white edge across a 64×64 picture is 64 × 100 / 90 = 71', () => {
    const p = new Uint8Array(64 * 64);
    for (let r = 0; r < 64; r++) for (let c = 32; c < 64; c++) p[r * 64 + c] = 255;
    expect(pdqFromPixels(p, 64, 64, 1).quality).toBe(71);
    // Steps of 2 grey levels are below one percent of full scale: they count for nothing.
    const faint = new Uint8Array(64 * 64);
    for (let r = 0; r < 64; r++) for (let c = 0; c < 64; c++) faint[r * 64 + c] = 100 + ((r + c) % 2) * 2;
    expect(pdqFromPixels(faint, 64, 64, 1).quality).toBe(0);
  });

  it('is 100 for the textured photos, low for a smooth gradient, 0 for a flat picture', async () => {
    for (const part of ['bridge-1-original', 'q0122', 'q0291', 'misc-images__c']) {
      expect((await hashFile(vectorPath(vector(part).file))).quality, part).toBe(100);
    }
    expect((await hashFile(vectorPath(vector('misc-images__small').file))).quality).toBeLessThan(50);
    const flat = new Uint8Array(100 * 80 * 3).fill(77);
    expect(pdqFromPixels(flat, 100, 80).quality).toBe(0);
  });

  it(`a picture narrower than ${MIN_HASHABLE_DIM} pixels gets the all-zero hash and quality 0, as in the reference`, () => {
    const p = new Uint8Array(4 * 100 * 3).fill(200);
    expect(pdqFromPixels(p, 4, 100)).toEqual({ hash: '0'.repeat(64), quality: 0 });
  });

  it('refuses a pixel buffer that does not hold the stated picture', () => {
    expect(() => pdqFromPixels(new Uint8Array(10), 10, 10)).toThrow(RangeError);
    expect(() => pdqFromPixels(new Uint8Array(200), 10, 10, 2)).toThrow(RangeError);
  });
});

describe('hammingDistance', () => {
  it('counts differing bits and refuses what is not a hash', () => {
    const a = vector('q0122').pdq;
    expect(hammingDistance(a, a)).toBe(0);
    const flipped = (a.slice(0, 63) + (Number.parseInt(a[63]!, 16) ^ 0xf).toString(16)) as string;
    expect(hammingDistance(a, flipped)).toBe(4);
    expect(hammingDistance('0'.repeat(64), 'f'.repeat(64))).toBe(256);
    expect(() => hammingDistance(a, a.toUpperCase())).toThrow(RangeError);
    expect(() => hammingDistance(a, a.slice(1))).toThrow(RangeError);
  });
});

describe('decoding a picture as it is seen', () => {
  const bridge = vectorPath(vector('bridge-1-original').file);

  it('applies EXIF orientation: pixels stored turned, with the tag that turns them back, hash as the upright photo', async () => {
    // Orientation 6: "rotate 90° clockwise to display", so the stored pixels are turned counter-clockwise.
    const stored = await sharp(bridge)
      .rotate(270)
      .jpeg({ quality: 92 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const upright = await hashFile(bridge);
    const oriented = await hashFile(stored);
    expect(hammingDistance(oriented.hash, upright.hash)).toBeLessThanOrEqual(16);
    // Without the tag the same pixels are another picture.
    const untagged = await sharp(bridge).rotate(270).jpeg({ quality: 92 }).toBuffer();
    expect(hammingDistance((await hashFile(untagged)).hash, upright.hash)).toBeGreaterThan(
      PDQ_MATCH_DISTANCE,
    );
  });

  it('flattens transparency on white: transparent pixels hash as white, whatever colour they hide', async () => {
    const { data, info } = await sharp(bridge)
      .resize(400)
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const { width, height } = info;
    const rgba = Buffer.from(data);
    const onWhite = Buffer.alloc(width * height * 3);
    const onBlack = Buffer.alloc(width * height * 3);
    for (let k = 0; k < width * height; k++) {
      // A 4×4 checkerboard of transparent squares: a 2-D pattern (a transparent half, constant
      // along one axis, would only change the DCT's row 0, which PDQ leaves out).
      const transparent =
        (Math.floor(((k % width) * 4) / width) + Math.floor((Math.floor(k / width) * 4) / height)) % 2 === 0;
      if (transparent) rgba.fill(0, k * 4, k * 4 + 4); // transparent black, as most encoders store it
      for (let c = 0; c < 3; c++) {
        onWhite[k * 3 + c] = transparent ? 255 : data[k * 4 + c]!;
        onBlack[k * 3 + c] = transparent ? 0 : data[k * 4 + c]!;
      }
    }
    const png = await hashFile(
      await sharp(rgba, { raw: { width, height, channels: 4 } })
        .png()
        .toBuffer(),
    );
    const jpeg = (pixels: Buffer) =>
      sharp(pixels, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 95 })
        .toBuffer();
    const white = await hashFile(await jpeg(onWhite));
    const black = await hashFile(await jpeg(onBlack));
    expect(hammingDistance(png.hash, white.hash)).toBeLessThanOrEqual(8);
    expect(hammingDistance(png.hash, black.hash)).toBeGreaterThan(PDQ_MATCH_DISTANCE);
  });

  it('a resized, recompressed and slightly cropped copy stays within the match distance; another photo does not', async () => {
    const original = await hashFile(bridge);
    const meta = await sharp(bridge).metadata();
    const copy = await sharp(bridge)
      .extract({ left: 16, top: 10, width: meta.width! - 32, height: meta.height! - 20 })
      .resize(640)
      .jpeg({ quality: 60 })
      .toBuffer();
    expect(hammingDistance((await hashFile(copy)).hash, original.hash)).toBeLessThanOrEqual(
      PDQ_MATCH_DISTANCE,
    );
    const other = await hashFile(vectorPath(vector('q0291').file));
    expect(hammingDistance(other.hash, original.hash)).toBeGreaterThan(PDQ_MATCH_DISTANCE);
  });

  it('refuses SVG and what is no picture, with a reason', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40"/></svg>',
    );
    await expect(readRgb(svg)).rejects.toMatchObject({
      name: 'ImageDecodeError',
      code: 'unsupported_format',
    });
    await expect(readRgb(Buffer.from('not a picture at all'))).rejects.toBeInstanceOf(ImageDecodeError);
    await expect(readRgb(join(mediaFixtures, 'page.html'))).rejects.toMatchObject({ code: 'not_image' });
  });
});

describe('vPDQ: one hash a second of a video', () => {
  const original = join(mediaFixtures, 'zelenskyy-31s.mp4');

  it('hashes each of the 31 seconds of the fixture, in order, with their quality', async () => {
    const frames = await hashVideo(original);
    expect(frames.map((f) => f.second)).toEqual([...Array(31).keys()]);
    for (const f of frames) {
      expect(f.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(f.quality).toBeGreaterThanOrEqual(50);
    }
    // The test pattern moves: neighbouring seconds are different pictures.
    expect(new Set(frames.map((f) => f.hash)).size).toBe(31);
  });

  it('a copy at a quarter of the resolution and another bitrate matches on ≥ 90% of its seconds; an unrelated video on none', async () => {
    const small = join(dir, 'quarter.mp4');
    await ffmpeg('-i', original, '-vf', 'scale=48:32', '-c:v', 'libx264', '-b:v', '40k', '-an', small);
    const unrelated = join(dir, 'unrelated.mp4');
    await ffmpeg(
      '-f',
      'lavfi',
      '-i',
      'mandelbrot=size=96x64:rate=2',
      '-t',
      '31',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      unrelated,
    );
    const a = await hashVideo(original);
    const b = await hashVideo(small);
    expect(b.length).toBe(31);
    const matched = b.filter((f, i) => hammingDistance(f.hash, a[i]!.hash) <= PDQ_MATCH_DISTANCE).length;
    expect(matched / b.length).toBeGreaterThanOrEqual(0.9);
    const c = await hashVideo(unrelated);
    expect(c.length).toBe(31);
    const anyMatch = c.filter((f) => a.some((g) => hammingDistance(f.hash, g.hash) <= PDQ_MATCH_DISTANCE));
    expect(anyMatch).toEqual([]);
  });

  it('turns a video upright as its track says (display matrix applied)', async () => {
    // rotated-1s.mp4 is the same test pattern, stored 96×64 with a 90° rotation in its track.
    const first = async (path: string) => {
      let pixels: Uint8Array | undefined;
      await decodeFramesPerSecond(await testFfmpeg(), path, (f) => {
        pixels ??= Uint8Array.from(f.pixels);
      });
      return pixels!;
    };
    const upright = pdqDihedralFromPixels(await first(original), 64, 64);
    const rotated = pdqFromPixels(await first(join(mediaFixtures, 'rotated-1s.mp4')), 64, 64);
    const distances = Object.fromEntries(
      DIHEDRAL.map((d) => [d, hammingDistance(rotated.hash, upright.hashes[d])]),
    );
    // ffprobe reads its display matrix as rotation 90: shown a quarter turn counter-clockwise.
    expect(distances.rotate90, JSON.stringify(distances)).toBeLessThanOrEqual(PDQ_MATCH_DISTANCE);
    expect(distances.original).toBeGreaterThan(PDQ_MATCH_DISTANCE);
  });

  it('hands over every frame as 64×64 RGB, whatever the resolution', async () => {
    const big = join(dir, 'big.mp4');
    await ffmpeg(
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=1280x720:rate=5',
      '-t',
      '2',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      big,
    );
    const sizes: string[] = [];
    await decodeFramesPerSecond(await testFfmpeg(), big, (f) =>
      sizes.push(`${f.second}:${f.width}x${f.height}:${f.pixels.length}`),
    );
    expect(sizes).toEqual(['0:64x64:12288', '1:64x64:12288']);
  });

  it('refuses what is no video, a playlist among them, and stops at the deadline', async () => {
    const ff = await testFfmpeg();
    const noop = () => {};
    await expect(decodeFramesPerSecond(ff, join(mediaFixtures, 'page.html'), noop)).rejects.toMatchObject({
      code: 'not_media',
    });
    await expect(decodeFramesPerSecond(ff, join(mediaFixtures, 'tone-5s.m4a'), noop)).rejects.toBeInstanceOf(
      VideoDecodeError,
    );
    const playlist = join(dir, 'list.m3u8');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(playlist, `#EXTM3U\n#EXTINF:31,\n${original}\n#EXT-X-ENDLIST\n`);
    await expect(decodeFramesPerSecond(ff, playlist, noop)).rejects.toMatchObject({ code: 'not_media' });
    await expect(decodeFramesPerSecond(ff, original, noop, { timeoutMs: 1 })).rejects.toMatchObject({
      code: 'decode_timeout',
    });
  });

  it('cuts frames out of the pipe however it is chunked', () => {
    const stream = Buffer.concat([Buffer.alloc(10, 1), Buffer.alloc(10, 2), Buffer.alloc(10, 3)]);
    for (const step of [1, 3, 7, 10, 13, 30]) {
      const seen: string[] = [];
      const splitter = new FrameSplitter(10);
      for (let i = 0; i < stream.length; i += step) {
        splitter.push(stream.subarray(i, i + step), (px) => seen.push(`${px[0]}${px[9]}:${px.length}`));
      }
      expect(seen, `step ${step}`).toEqual(['11:10', '22:10', '33:10']);
      expect(splitter.pending()).toBe(false);
    }
    const cut = new FrameSplitter(10);
    cut.push(Buffer.alloc(15), () => {});
    expect(cut.pending()).toBe(true);
  });
});
