// Image dimensions from headers and EXIF from the committed JPEG (EXIF written by
// scripts/make-exif-jpeg.mjs), plus hand-made headers for the other formats.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/ledger/canonical.ts';
import {
  exifDateToIso,
  readExif,
  readImageDimensions,
  readImageMetadata,
} from '../../../src/media/image-metadata.ts';
import { fixture, scratchDir } from './helpers.ts';

const dir = await scratchDir();

async function scratch(name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

describe('readImageMetadata', () => {
  it('reads size, capture time, camera and GPS from the EXIF JPEG', async () => {
    const m = await readImageMetadata(fixture('photo-exif.jpg'));
    expect(m).toStrictEqual({
      format: 'jpeg',
      width: 64,
      height: 48,
      exif: {
        captureTime: '2024-12-17T20:31:00+02:00',
        make: 'Canon',
        model: 'Canon EOS R6',
        software: 'claimtrail fixture 1.0',
        orientation: 1,
        gps: { latitude: 50.4501, longitude: 30.5234, altitude: 179 },
      },
    });
    expect(() => canonicalJson(m)).not.toThrow();
  });

  it('reads PNG dimensions (not swapped) and reports no EXIF', async () => {
    const m = await readImageMetadata(fixture('image.png'));
    expect(m).toStrictEqual({ format: 'png', width: 40, height: 30, exif: {} });
  });

  it('gives nulls for a file that is not an image', async () => {
    const m = await readImageMetadata(fixture('page.html'));
    expect(m).toStrictEqual({ format: null, width: null, height: null, exif: {} });
  });

  it('does not depend on the machine time zone', async () => {
    // Capture time is the camera's wall clock plus its recorded offset, never converted, so
    // the same file gives the same ledger entry on every machine.
    const saved = process.env.TZ;
    try {
      for (const tz of ['America/Los_Angeles', 'Asia/Tokyo', 'UTC']) {
        process.env.TZ = tz;
        const { exif } = await readImageMetadata(fixture('photo-exif.jpg'));
        expect(exif.captureTime).toBe('2024-12-17T20:31:00+02:00');
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe('readImageDimensions', () => {
  it('finds a JPEG frame header that lies beyond the first 64 KiB', async () => {
    const jpeg = await readFile(fixture('photo-exif.jpg'));
    // Two 60 KiB APP2 segments (like a large ICC profile) between SOI and the rest.
    const app2 = Buffer.alloc(4 + 60_000, 0x41);
    app2.writeUInt16BE(0xffe2, 0);
    app2.writeUInt16BE(60_002, 2);
    const padded = Buffer.concat([jpeg.subarray(0, 2), app2, app2, jpeg.subarray(2)]);
    const path = await scratch('padded.jpg', padded);
    await expect(readImageDimensions(path)).resolves.toStrictEqual({ format: 'jpeg', width: 64, height: 48 });
    // EXIF is found after the padding too.
    expect((await readExif(path)).make).toBe('Canon');
  });

  it('reads GIF, WebP (VP8X, VP8L) and BMP headers', async () => {
    const gif = Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.from([7, 0, 5, 0]), Buffer.alloc(20)]);
    await expect(readImageDimensions(await scratch('a.gif', gif))).resolves.toStrictEqual({
      format: 'gif',
      width: 7,
      height: 5,
    });

    const vp8x = Buffer.alloc(40);
    vp8x.write('RIFF', 0, 'latin1');
    vp8x.writeUInt32LE(32, 4);
    vp8x.write('WEBPVP8X', 8, 'latin1');
    vp8x.writeUIntLE(1919, 24, 3);
    vp8x.writeUIntLE(1079, 27, 3);
    await expect(readImageDimensions(await scratch('x.webp', vp8x))).resolves.toStrictEqual({
      format: 'webp',
      width: 1920,
      height: 1080,
    });

    const vp8l = Buffer.alloc(40);
    vp8l.write('RIFF', 0, 'latin1');
    vp8l.write('WEBPVP8L', 8, 'latin1');
    vp8l[20] = 0x2f;
    vp8l.writeUInt32LE((99 & 0x3fff) | ((49 & 0x3fff) << 14), 21);
    await expect(readImageDimensions(await scratch('l.webp', vp8l))).resolves.toStrictEqual({
      format: 'webp',
      width: 100,
      height: 50,
    });

    const bmp = Buffer.alloc(54);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(33, 18);
    bmp.writeInt32LE(-17, 22); // top-down bitmap
    await expect(readImageDimensions(await scratch('a.bmp', bmp))).resolves.toStrictEqual({
      format: 'bmp',
      width: 33,
      height: 17,
    });
  });

  it('gives up on a JPEG without a frame header instead of looping', async () => {
    const broken = Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0xff, 0xd9]);
    await expect(readImageDimensions(await scratch('broken.jpg', broken))).resolves.toBeNull();
    const truncated = Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff]);
    await expect(readImageDimensions(await scratch('trunc.jpg', truncated))).resolves.toBeNull();
  });
});

describe('exifDateToIso', () => {
  const cases: [args: [string, string?, string?], expected: string | undefined][] = [
    [['2024:12:17 20:31:00'], '2024-12-17T20:31:00'],
    [['2024:12:17 20:31:00', '45', '-05:00'], '2024-12-17T20:31:00.45-05:00'],
    [['2024:12:17 20:31:00', undefined, 'garbage'], '2024-12-17T20:31:00'],
    [['0000:00:00 00:00:00'], undefined],
    [['    :  :     :  :  '], undefined],
    [['2024:13:01 00:00:00'], undefined],
  ];
  it.each(cases)('%j → %s', (args, expected) => {
    expect(exifDateToIso(...args)).toBe(expected);
  });
});
