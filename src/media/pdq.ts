// PDQ, Meta's 256-bit perceptual image hash (ThreatExchange `pdq/`, "hashing.pdf"), written
// from the published algorithm and the reference implementation (pdq/cpp/hashing/pdqhashing.cpp,
// pdq/cpp/downscaling/downscaling.cpp): luminance with the reference's coefficients, a
// Jarosz tent filter (two X,Y passes of box filters) and decimation to 64×64, the first 16×16
// coefficients of the 2-D DCT (the DC row and column skipped), one bit per coefficient above
// their median; quality from the gradients of the 64×64 image. Pure: pixels in, hash out.
// Decoding lives in image-pixels.ts and video-frames.ts.
//
// Bit layout and hex form are the reference's, so hashes interoperate with other PDQ users:
// bit i*16+j is coefficient (i, j); the hex string is the sixteen 16-bit rows from row 15 down
// to row 0, bit j of a row being its value's bit j.

/** A PDQ hash (64 lowercase hex digits) and its quality, 0 (featureless) to 100. */
export interface PdqHash {
  hash: string;
  quality: number;
}

/**
 * The eight symmetries of the square, named as the reference names them. Each is the hash of
 * the picture turned or mirrored so: rotate90 a quarter turn counter-clockwise, rotate270 a
 * quarter turn clockwise, flipX upside down, flipY mirrored left-right, flipPlus1 transposed
 * (pixel (r, c) moved to (c, r)), flipMinus1 mirrored across the other diagonal.
 */
export const DIHEDRAL = [
  'original',
  'rotate90',
  'rotate180',
  'rotate270',
  'flipX',
  'flipY',
  'flipPlus1',
  'flipMinus1',
] as const;
export type Dihedral = (typeof DIHEDRAL)[number];

export interface PdqDihedral {
  quality: number;
  hashes: Record<Dihedral, string>;
}

/** Below this many rows or columns the reference gives up: all-zero hash, quality 0. */
export const MIN_HASHABLE_DIM = 5;
/** ThreatExchange's match threshold: hashes this close (inclusive) show the same picture. */
export const PDQ_MATCH_DISTANCE = 31;
export const PDQ_HEX = /^[0-9a-f]{64}$/;

const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;
const JAROSZ_PASSES = 2;
const ZERO_HASH = '0'.repeat(64);

// Rows 1..16 of the 64-point DCT-II matrix (row 0, the DC term, is not used), scaled by √(2/64).
const DCT = (() => {
  const d = new Float64Array(16 * 64);
  const scale = Math.sqrt(2 / 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) d[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1));
  }
  return d;
})();

/**
 * Luminance of interleaved 8-bit pixels (`channels` 3 = RGB, 4 = RGBA: alpha ignored, flatten
 * first; 1 = grey), row-major, as the reference's fillFloatLumaFromRGB / FromGrey.
 */
export function lumaFromPixels(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
): Float32Array {
  const n = width * height;
  if (pixels.length < n * channels) {
    throw new RangeError(`pdq: ${pixels.length} bytes is not ${width}×${height}×${channels}`);
  }
  const luma = new Float32Array(n);
  if (channels === 1) {
    for (let k = 0; k < n; k++) luma[k] = pixels[k]!;
  } else if (channels === 3 || channels === 4) {
    for (let k = 0, p = 0; k < n; k++, p += channels) {
      luma[k] = LUMA_R * pixels[p]! + LUMA_G * pixels[p + 1]! + LUMA_B * pixels[p + 2]!;
    }
  } else {
    throw new RangeError(`pdq: ${channels} channels (1, 3 or 4 expected)`);
  }
  return luma;
}

/** The hash of an image given as interleaved 8-bit pixels (see lumaFromPixels). */
export function pdqFromPixels(pixels: Uint8Array, width: number, height: number, channels = 3): PdqHash {
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) return { hash: ZERO_HASH, quality: 0 };
  const { dct, quality } = dct16FromLuma(lumaFromPixels(pixels, width, height, channels), width, height);
  return { hash: bitsOf(dct), quality };
}

/**
 * The hashes of the image and of its seven rotations and flips, all from one DCT (a rotation
 * or flip of the picture only transposes the coefficients or changes their signs).
 */
export function pdqDihedralFromPixels(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels = 3,
): PdqDihedral {
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) {
    return {
      quality: 0,
      hashes: Object.fromEntries(DIHEDRAL.map((d) => [d, ZERO_HASH])) as PdqDihedral['hashes'],
    };
  }
  const { dct, quality } = dct16FromLuma(lumaFromPixels(pixels, width, height, channels), width, height);
  const hashes = {} as PdqDihedral['hashes'];
  for (const d of DIHEDRAL) hashes[d] = bitsOf(dihedral(dct, d));
  return { quality, hashes };
}

/** Blur and decimate to 64×64, quality, DCT: everything but the thresholding. `luma` is reused as scratch. */
function dct16FromLuma(
  luma: Float32Array,
  width: number,
  height: number,
): { dct: Float64Array; quality: number } {
  const small = new Float64Array(64 * 64);
  if (width === 64 && height === 64) {
    small.set(luma);
  } else {
    jaroszFilter(luma, new Float32Array(luma.length), height, width, windowSize(width), windowSize(height));
    decimate(luma, height, width, small);
  }
  return { dct: dct64To16(small), quality: qualityOf(small) };
}

/** Per-pass box width: half of what one output pixel covers, rounded up (two passes make a tent). */
function windowSize(oldDimension: number): number {
  return Math.floor((oldDimension + 2 * 64 - 1) / (2 * 64));
}

function jaroszFilter(
  buffer1: Float32Array,
  buffer2: Float32Array,
  rows: number,
  cols: number,
  windowAlongRows: number,
  windowAlongCols: number,
): void {
  for (let pass = 0; pass < JAROSZ_PASSES; pass++) {
    for (let i = 0; i < rows; i++) box1D(buffer1, buffer2, i * cols, cols, 1, windowAlongRows);
    for (let j = 0; j < cols; j++) box1D(buffer2, buffer1, j, rows, cols, windowAlongCols);
  }
}

/**
 * A running-sum box filter of width `window` centred on each element, the window shrinking at
 * both ends (the reference's four phases: fill, write while growing, slide, write while shrinking).
 */
function box1D(
  input: Float32Array,
  output: Float32Array,
  start: number,
  length: number,
  stride: number,
  window: number,
): void {
  const half = Math.floor((window + 2) / 2);
  const phase1 = half - 1;
  const phase2 = window - half + 1;
  const phase3 = length - window;
  const phase4 = half - 1;
  let li = start;
  let ri = start;
  let oi = start;
  let sum = 0;
  let size = 0;
  for (let i = 0; i < phase1; i++, ri += stride) {
    sum += input[ri]!;
    size++;
  }
  for (let i = 0; i < phase2; i++, ri += stride, oi += stride) {
    sum += input[ri]!;
    size++;
    output[oi] = sum / size;
  }
  for (let i = 0; i < phase3; i++, li += stride, ri += stride, oi += stride) {
    sum += input[ri]! - input[li]!;
    output[oi] = sum / size;
  }
  for (let i = 0; i < phase4; i++, li += stride, oi += stride) {
    sum -= input[li]!;
    size--;
    output[oi] = sum / size;
  }
}

/** Samples the blurred image at the centres of a 64×64 grid. */
function decimate(input: Float32Array, rows: number, cols: number, out: Float64Array): void {
  for (let oi = 0; oi < 64; oi++) {
    const row = Math.floor(((oi + 0.5) * rows) / 64) * cols;
    for (let oj = 0; oj < 64; oj++) out[oi * 64 + oj] = input[row + Math.floor(((oj + 0.5) * cols) / 64)]!;
  }
}

/**
 * The reference's heuristic: the sum of significant vertical and horizontal steps of the 64×64
 * image (each as a truncated percentage of full scale), /90, capped at 100. Low quality means a
 * flat picture whose hash says little (the vPDQ matcher skips such frames).
 */
function qualityOf(a: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++)
      sum += Math.abs(Math.trunc(((a[i * 64 + j]! - a[(i + 1) * 64 + j]!) * 100) / 255));
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++)
      sum += Math.abs(Math.trunc(((a[i * 64 + j]! - a[i * 64 + j + 1]!) * 100) / 255));
  }
  return Math.min(100, Math.floor(sum / 90));
}

/** B = D·A·Dᵀ for the 16 used rows of D: only the coefficients the hash needs. */
function dct64To16(a: Float64Array): Float64Array {
  const t = new Float64Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    const d = i * 64;
    for (let j = 0; j < 64; j++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s += DCT[d + k]! * a[k * 64 + j]!;
      t[i * 64 + j] = s;
    }
  }
  const b = new Float64Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s += t[i * 64 + k]! * DCT[j * 64 + k]!;
      b[i * 16 + j] = s;
    }
  }
  return b;
}

/**
 * The DCT of the rotated or flipped picture, from the original's (pdqhashing.cpp's
 * dct16OriginalTo*). Mirroring an axis negates the coefficients that are odd along it (here
 * even-indexed, as the DC term is skipped); a quarter turn or a diagonal flip also transposes.
 */
function dihedral(a: Float64Array, kind: Dihedral): Float64Array {
  if (kind === 'original') return a;
  const b = new Float64Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      const v = a[i * 16 + j]!;
      switch (kind) {
        case 'rotate90':
          b[j * 16 + i] = j & 1 ? v : -v;
          break;
        case 'rotate180':
          b[i * 16 + j] = (i + j) & 1 ? -v : v;
          break;
        case 'rotate270':
          b[j * 16 + i] = i & 1 ? v : -v;
          break;
        case 'flipX':
          b[i * 16 + j] = i & 1 ? v : -v;
          break;
        case 'flipY':
          b[i * 16 + j] = j & 1 ? v : -v;
          break;
        case 'flipPlus1':
          b[j * 16 + i] = v;
          break;
        case 'flipMinus1':
          b[j * 16 + i] = (i + j) & 1 ? -v : v;
          break;
      }
    }
  }
  return b;
}

/** One bit per coefficient: above the median (the 128th smallest, as Torben's method finds it). */
function bitsOf(dct: Float64Array): string {
  const median = Float64Array.from(dct).sort()[127]!;
  let hex = '';
  for (let i = 15; i >= 0; i--) {
    let word = 0;
    for (let j = 0; j < 16; j++) if (dct[i * 16 + j]! > median) word |= 1 << j;
    hex += word.toString(16).padStart(4, '0');
  }
  return hex;
}

/** The hash as eight 32-bit words (hex order: word 0 is the first eight digits). */
export function hashWords(hash: string): Uint32Array {
  if (!PDQ_HEX.test(hash)) throw new RangeError('pdq: a hash is 64 lowercase hex digits');
  const words = new Uint32Array(8);
  for (let w = 0; w < 8; w++) words[w] = Number.parseInt(hash.slice(w * 8, w * 8 + 8), 16);
  return words;
}

/** Set bits of a 32-bit integer. */
export function popcount32(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** How many of the 256 bits differ: 0 identical, ≤ 31 (PDQ_MATCH_DISTANCE) the same picture. */
export function hammingDistance(a: string, b: string): number {
  const x = hashWords(a);
  const y = hashWords(b);
  let d = 0;
  for (let w = 0; w < 8; w++) d += popcount32(x[w]! ^ y[w]!);
  return d;
}
