// Decoding an image for perceptual hashing: sharp (libvips, shipped inside its npm packages).
// The picture as a person sees it: EXIF orientation applied, transparency flattened on white,
// colour converted to sRGB, 8 bits per channel, raw RGB. Big pictures are shrunk to fit
// 512×512 first, as the reference hashers do (pdqio.cpp resizes to 512, the Python one makes a
// 512 thumbnail): PDQ keeps only a 64×64 blur, so this changes a hash by a few bits at most,
// and it lets libvips shrink a JPEG while decoding it (a 12 MP photo is never held whole).
import sharp, { type Metadata } from 'sharp';

export interface RgbImage {
  /** width × height × 3 bytes, row-major, interleaved R, G, B. */
  pixels: Uint8Array;
  width: number;
  height: number;
  /** Before orientation and shrinking, as stored in the file. */
  source: { format: string; width: number; height: number; orientation?: number };
}

/** An image sharp could not or may not decode; `detail` is safe to store as a reason. */
export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
  constructor(
    readonly code: 'not_image' | 'unsupported_format' | 'too_large' | 'decode_failed',
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${code}: ${detail}`, options);
  }
}

/** Largest side handed to the hasher (see the header). */
export const HASH_INPUT_MAX_SIDE = 512;

/**
 * Raster formats decoded (sharp's metadata().format names). SVG and PDF are left out on
 * purpose: they are programs more than pictures (an SVG may name other files and fonts), and
 * a stranger's download must describe only itself. Anything else fails `unsupported_format`.
 */
export const HASHABLE_FORMATS: readonly string[] = [
  'jpeg',
  'png',
  'webp',
  'gif',
  'tiff',
  'heif',
  'avif',
  'jp2',
];

/**
 * Decompression bombs: a 100,000 × 100,000 PNG is a few KiB. Past this many pixels (100 MP,
 * beyond any camera evidence is shot with) nothing is decoded.
 */
export const MAX_INPUT_PIXELS = 100_000_000;

/** Reads `input` (a path or the bytes) as the oriented, flattened, shrunk sRGB picture. */
export async function readRgb(input: string | Buffer): Promise<RgbImage> {
  const options = { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' as const, pages: 1 };
  let meta: Metadata;
  try {
    meta = await sharp(input, options).metadata();
  } catch (error) {
    throw new ImageDecodeError('not_image', firstLine(error), { cause: error });
  }
  const format = meta.format ?? 'unknown';
  if (!HASHABLE_FORMATS.includes(format)) {
    throw new ImageDecodeError('unsupported_format', `${format} images are not hashed`);
  }
  if (!meta.width || !meta.height) throw new ImageDecodeError('not_image', 'no dimensions');
  if (meta.width * meta.height > MAX_INPUT_PIXELS) {
    throw new ImageDecodeError(
      'too_large',
      `${meta.width}×${meta.height} is over ${MAX_INPUT_PIXELS} pixels`,
    );
  }
  try {
    const { data, info } = await sharp(input, options)
      .autoOrient()
      .resize(HASH_INPUT_MAX_SIDE, HASH_INPUT_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return {
      pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      source: { format, width: meta.width, height: meta.height, orientation: meta.orientation },
    };
  } catch (error) {
    throw new ImageDecodeError('decode_failed', firstLine(error), { cause: error });
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n', 1)[0] ?? '').slice(0, 300);
}
