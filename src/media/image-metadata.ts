// Describing still images: pixel dimensions from the file's own header (file-type names a
// format but gives no size, and EXIF sizes are whatever the camera or editor wrote), and
// the EXIF fields that matter for provenance — when, with what, where — via exifr.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import exifr from 'exifr';
import { clip, compact, finiteNumber } from './json.ts';

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'bmp';

export type ExifSummary = {
  /**
   * When the picture was taken (DateTimeOriginal, else CreateDate), ISO 8601. EXIF stores the
   * camera's wall-clock time; the offset is appended only when the file records one
   * (OffsetTimeOriginal), so "2024-12-17T20:31:00" means "local time, zone unknown" and is
   * deliberately not converted to UTC.
   */
  captureTime?: string;
  make?: string;
  model?: string;
  software?: string;
  /** EXIF Orientation 1–8 (1 = as stored); width/height below are as stored. */
  orientation?: number;
  /** Decimal degrees (south and west negative), rounded to 1e-7° (about 1 cm); metres. */
  gps?: { latitude: number; longitude: number; altitude?: number };
};

export type ImageMetadata = {
  format: ImageFormat | null;
  width: number | null;
  height: number | null;
  exif: ExifSummary;
};

export type ImageDimensions = { format: ImageFormat; width: number; height: number };

const HEAD_BYTES = 64 * 1024;
// A JPEG's size is in its SOF segment, after any APPn segments (EXIF, ICC, XMP, ...);
// stop walking after this many segments rather than loop over a hostile file.
const MAX_JPEG_SEGMENTS = 1024;

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

const positive = (w: number, h: number) => w > 0 && h > 0;

/** PNG: the IHDR chunk must come first (PNG spec 5.6); width and height are its first words. */
function pngSize(head: Buffer): ImageDimensions | null {
  if (head.length < 24 || head.readUInt32BE(0) !== 0x89504e47 || head.toString('latin1', 12, 16) !== 'IHDR') {
    return null;
  }
  const width = head.readUInt32BE(16);
  const height = head.readUInt32BE(20);
  return positive(width, height) ? { format: 'png', width, height } : null;
}

/** GIF87a/89a: the logical screen size, little-endian, right after the signature. */
function gifSize(head: Buffer): ImageDimensions | null {
  if (head.length < 10 || !/^GIF8[79]a$/.test(head.toString('latin1', 0, 6))) return null;
  const width = head.readUInt16LE(6);
  const height = head.readUInt16LE(8);
  return positive(width, height) ? { format: 'gif', width, height } : null;
}

/** WebP: the first chunk is VP8 (lossy), VP8L (lossless) or VP8X (extended, canvas size). */
function webpSize(head: Buffer): ImageDimensions | null {
  if (
    head.length < 30 ||
    head.toString('latin1', 0, 4) !== 'RIFF' ||
    head.toString('latin1', 8, 12) !== 'WEBP'
  ) {
    return null;
  }
  const chunk = head.toString('latin1', 12, 16);
  let width = 0;
  let height = 0;
  if (chunk === 'VP8 ' && head[23] === 0x9d && head[24] === 0x01 && head[25] === 0x2a) {
    width = head.readUInt16LE(26) & 0x3fff;
    height = head.readUInt16LE(28) & 0x3fff;
  } else if (chunk === 'VP8L' && head[20] === 0x2f) {
    const bits = head.readUInt32LE(21);
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
  } else if (chunk === 'VP8X') {
    width = head.readUIntLE(24, 3) + 1;
    height = head.readUIntLE(27, 3) + 1;
  }
  return positive(width, height) ? { format: 'webp', width, height } : null;
}

/** BMP: BITMAPCOREHEADER (12 bytes, 16-bit sizes) or later headers (32-bit, height signed). */
function bmpSize(head: Buffer): ImageDimensions | null {
  if (head.length < 26 || head.toString('latin1', 0, 2) !== 'BM') return null;
  const headerSize = head.readUInt32LE(14);
  const width = headerSize === 12 ? head.readUInt16LE(18) : head.readInt32LE(18);
  const height = Math.abs(headerSize === 12 ? head.readUInt16LE(20) : head.readInt32LE(22));
  return positive(width, height) ? { format: 'bmp', width, height } : null;
}

interface JpegScan {
  dimensions: ImageDimensions | null;
  /** Where the metadata segments end: the first SOS marker, or where the walk stopped. */
  segmentsEnd: number;
}

/**
 * JPEG: walk the marker segments to the first SOFn frame header (ITU T.81 B.2.2), and on to
 * the start of scan, before which every APPn segment (EXIF, XMP, ICC) lies.
 */
async function scanJpeg(handle: FileHandle, head: Buffer): Promise<JpegScan | null> {
  if (head.length < 4 || head[0] !== 0xff || head[1] !== 0xd8) return null;
  let dimensions: ImageDimensions | null = null;
  let position = 2;
  for (let i = 0; i < MAX_JPEG_SEGMENTS; i++) {
    const marker =
      position + 9 <= head.length ? head.subarray(position, position + 9) : await readAt(handle, position, 9);
    if (marker.length < 4 || marker[0] !== 0xff) break;
    const code = marker[1]!;
    if (code === 0xff) {
      position += 1; // fill byte before a marker
      continue;
    }
    if (code === 0xd8 || code === 0x01 || (code >= 0xd0 && code <= 0xd7)) {
      position += 2; // markers without a length
      continue;
    }
    if (code === 0xda || code === 0xd9) break; // start of scan or end of image
    const isFrame = code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc;
    if (isFrame && dimensions === null && marker.length >= 9) {
      const height = marker.readUInt16BE(5);
      const width = marker.readUInt16BE(7);
      if (positive(width, height)) dimensions = { format: 'jpeg', width, height };
    }
    position += 2 + marker.readUInt16BE(2);
  }
  return { dimensions, segmentsEnd: position };
}

interface HeaderScan {
  dimensions: ImageDimensions | null;
  /** For JPEG: the bytes before the scan data, which hold all of its metadata. */
  jpegSegments?: Buffer;
}

// Metadata segments larger than this are not read for EXIF (an APPn segment is < 64 KiB,
// and real files have a handful).
const MAX_JPEG_SEGMENT_BYTES = 4 * 1024 * 1024;

async function scanHeaders(filePath: string): Promise<HeaderScan> {
  const handle = await open(filePath, 'r');
  try {
    const head = await readAt(handle, 0, HEAD_BYTES);
    const simple = pngSize(head) ?? gifSize(head) ?? webpSize(head) ?? bmpSize(head);
    if (simple) return { dimensions: simple };
    const jpeg = await scanJpeg(handle, head);
    if (!jpeg) return { dimensions: null };
    const end = Math.min(jpeg.segmentsEnd, MAX_JPEG_SEGMENT_BYTES);
    const jpegSegments = end <= head.length ? head.subarray(0, end) : await readAt(handle, 0, end);
    return { dimensions: jpeg.dimensions, jpegSegments };
  } finally {
    await handle.close();
  }
}

/** Pixel size from the file header, for JPEG, PNG, GIF, WebP and BMP; null for others. */
export async function readImageDimensions(filePath: string): Promise<ImageDimensions | null> {
  return (await scanHeaders(filePath)).dimensions;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const text = (v: unknown): string | undefined => {
  if (typeof v !== 'string') return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: EXIF ASCII fields are NUL-padded.
  const trimmed = v.replace(/\u0000+$/, '').trim();
  return trimmed === '' ? undefined : clip(trimmed, 256);
};

/** "2024:12:17 20:31:00" (+ sub-seconds, offset) → "2024-12-17T20:31:00[.sss][+02:00]". */
export function exifDateToIso(value: unknown, subSeconds?: unknown, offset?: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  // "0000:00:00 00:00:00" and friends mean "clock not set".
  if (y < 1800 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  let iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}`;
  const sub =
    typeof subSeconds === 'number' ? String(subSeconds) : typeof subSeconds === 'string' ? subSeconds : '';
  if (/^\d{1,9}$/.test(sub.trim())) iso += `.${sub.trim()}`;
  if (typeof offset === 'string' && /^[+-]\d{2}:\d{2}$/.test(offset.trim())) iso += offset.trim();
  return iso;
}

const round7 = (n: number) => Math.round(n * 1e7) / 1e7;

function degrees(dms: unknown, ref: unknown, negativeRef: string, limit: number): number | undefined {
  const parts = Array.isArray(dms) ? dms.map(finiteNumber) : [finiteNumber(dms)];
  if (parts.length === 0 || parts.length > 3 || parts.some((p) => p === undefined || p < 0)) return undefined;
  const [d = 0, m = 0, s = 0] = parts as number[];
  const value = d + m / 60 + s / 3600;
  if (value > limit) return undefined;
  const negative = typeof ref === 'string' && ref.trim().toUpperCase() === negativeRef;
  return round7(negative ? -value : value);
}

function gpsOf(gps: Obj): ExifSummary['gps'] {
  const latitude = degrees(gps.GPSLatitude, gps.GPSLatitudeRef, 'S', 90);
  const longitude = degrees(gps.GPSLongitude, gps.GPSLongitudeRef, 'W', 180);
  if (latitude === undefined || longitude === undefined) return undefined;
  const altitude = finiteNumber(gps.GPSAltitude);
  const ref = gps.GPSAltitudeRef;
  // GPSAltitudeRef 1 = below sea level; exifr gives it as a one-byte array or a number.
  const below = (ref instanceof Uint8Array ? ref[0] : finiteNumber(ref)) === 1;
  return compact({
    latitude,
    longitude,
    altitude: altitude === undefined ? undefined : round7(below ? -altitude : altitude),
  });
}

type ExifSegments = { ifd0: Obj; exif: Obj; gps: Obj };

/**
 * EXIF via exifr, from the JPEG's metadata segments when there are some (exifr's chunked
 * file reader misses an APP1 that follows large APPn segments), else from the file, which
 * exifr reads in chunks (TIFF, HEIC, PNG eXIf...).
 */
async function parseExif(input: string | Buffer): Promise<ExifSegments | null> {
  let raw: unknown;
  try {
    raw = await exifr.parse(input, {
      mergeOutput: false,
      // Raw values: exifr would revive dates in the machine's time zone and translate
      // Orientation into English text; both are done here instead, deterministically.
      reviveValues: false,
      translateValues: false,
      tiff: true,
      exif: true,
      gps: true,
      ifd1: false,
      interop: false,
      makerNote: false,
      userComment: false,
      xmp: false,
      icc: false,
      iptc: false,
      jfif: false,
      ihdr: false,
    });
  } catch {
    // Unknown format or a corrupt segment: an image without readable EXIF, not an error.
    return null;
  }
  if (!isObj(raw)) return null;
  return {
    ifd0: isObj(raw.ifd0) ? raw.ifd0 : {},
    exif: isObj(raw.exif) ? raw.exif : {},
    gps: isObj(raw.gps) ? raw.gps : {},
  };
}

function summarize({ ifd0, exif, gps }: ExifSegments): ExifSummary {
  const orientation = finiteNumber(ifd0.Orientation);
  return compact({
    captureTime:
      exifDateToIso(exif.DateTimeOriginal, exif.SubSecTimeOriginal, exif.OffsetTimeOriginal) ??
      exifDateToIso(exif.CreateDate, exif.SubSecTimeDigitized, exif.OffsetTimeDigitized),
    make: text(ifd0.Make),
    model: text(ifd0.Model),
    software: text(ifd0.Software),
    orientation:
      orientation !== undefined && Number.isInteger(orientation) && orientation >= 1 && orientation <= 8
        ? orientation
        : undefined,
    gps: gpsOf(gps),
  });
}

/** The provenance-relevant EXIF fields of an image file; {} when it has none or cannot be read. */
export async function readExif(filePath: string): Promise<ExifSummary> {
  const { jpegSegments } = await scanHeaders(filePath);
  const segments = await parseExif(jpegSegments ?? filePath);
  return segments ? summarize(segments) : {};
}

/**
 * Format, stored pixel size and EXIF summary of one image file. The size comes from the
 * image header; for formats without a header reader here (TIFF, HEIC, ...) it falls back to
 * the size EXIF declares, which an editor may have left stale.
 */
export async function readImageMetadata(filePath: string): Promise<ImageMetadata> {
  const { dimensions, jpegSegments } = await scanHeaders(filePath);
  const segments = await parseExif(jpegSegments ?? filePath);
  let width = dimensions?.width ?? null;
  let height = dimensions?.height ?? null;
  if (!dimensions && segments) {
    const w = finiteNumber(segments.exif.ExifImageWidth) ?? finiteNumber(segments.ifd0.ImageWidth);
    const h = finiteNumber(segments.exif.ExifImageHeight) ?? finiteNumber(segments.ifd0.ImageHeight);
    if (w !== undefined && h !== undefined && w > 0 && h > 0) {
      width = w;
      height = h;
    }
  }
  return { format: dimensions?.format ?? null, width, height, exif: segments ? summarize(segments) : {} };
}
