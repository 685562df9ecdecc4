// Perceptual hashes of one evidence item, for describe() (captures and uploads alike): PDQ of an
// image, or of one frame a second of a video (vPDQ), from a local copy of the blob. Stores
// nothing: the caller writes the rows (insertMediaHashes, pdq-store.ts) in the same
// transaction as the event that reports them (pdqEventData), so a hash never exists without
// its custody record.
import sharp from 'sharp';
import type { BlobStore } from '../storage/blob-store.ts';
import { readRgb } from './image-pixels.ts';
import { pdqFromPixels } from './pdq.ts';
import type { FrameHash } from './pdq-store.ts';
import { kindOf } from './sniff.ts';
import { decodeFramesPerSecond, resolveFfmpegPath } from './video-frames.ts';

export interface MediaHashes {
  /** `image`: one hash, second 0. `video`: one per second, from second 0. */
  kind: 'image' | 'video';
  algorithm: 'pdq';
  /** What decoded the pixels, e.g. "sharp 0.35.5", "ffmpeg". */
  decoder: string;
  frames: FrameHash[];
}

export interface HashDeps {
  /** ffmpeg for video, as resolveFfmpegPath() answers (a configured path is checked there); found when absent. */
  ffmpegPath?: string;
  /** The ffprobe in use: an ffmpeg next to it is found when none is on PATH. */
  ffprobePath?: string;
  /** Bound on decoding one video (default 10 minutes). */
  videoTimeoutMs?: number;
  /** Seconds of a video hashed at most (default 4 hours). */
  maxVideoSeconds?: number;
}

const sharpVersion = `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`;

/** Whether items of this media type get perceptual hashes (images and videos). */
export function isHashable(mediaType: string): boolean {
  const kind = kindOf(mediaType);
  return kind === 'image' || kind === 'video';
}

/**
 * The perceptual hashes of the file at `path` (a local copy of the item), or null when its
 * media type is neither an image nor a video (audio, pages, documents, post records). Throws
 * ImageDecodeError / VideoDecodeError for content that does not decode,
 * FfmpegUnavailableError when a video cannot be decoded here.
 */
export async function hashFile(deps: HashDeps, path: string, mediaType: string): Promise<MediaHashes | null> {
  const kind = kindOf(mediaType);
  if (kind === 'image') {
    const image = await readRgb(path);
    const { hash, quality } = pdqFromPixels(image.pixels, image.width, image.height);
    return { kind: 'image', algorithm: 'pdq', decoder: sharpVersion, frames: [{ second: 0, hash, quality }] };
  }
  if (kind === 'video') {
    const ffmpeg = deps.ffmpegPath ?? (await resolveFfmpegPath(undefined, deps.ffprobePath));
    const frames: FrameHash[] = [];
    await decodeFramesPerSecond(
      ffmpeg,
      path,
      (frame) => {
        const { hash, quality } = pdqFromPixels(frame.pixels, frame.width, frame.height);
        frames.push({ second: frame.second, hash, quality });
      },
      { timeoutMs: deps.videoTimeoutMs, maxSeconds: deps.maxVideoSeconds },
    );
    return { kind: 'video', algorithm: 'pdq', decoder: 'ffmpeg', frames };
  }
  return null;
}

/**
 * hashFile of a stored item, on a local copy of its own (describe() hashes the copy it shares
 * with the other readers instead). Reads nothing for a media type that is not hashed.
 */
export async function hashEvidence(
  deps: HashDeps & { blobs: BlobStore },
  evidence: { sha256: string; mediaType: string },
): Promise<MediaHashes | null> {
  if (!isHashable(evidence.mediaType)) return null;
  return deps.blobs.withLocalFile(evidence.sha256, (path) => hashFile(deps, path, evidence.mediaType));
}

/**
 * What the event describing the item carries: the algorithm, decoder and every hash with its
 * quality (`{second, hash, quality}`; an image has one, second 0). JSON-safe as it stands.
 */
export function pdqEventData(hashes: MediaHashes): {
  algorithm: 'pdq';
  kind: 'image' | 'video';
  decoder: string;
  frames: { second: number; hash: string; quality: number }[];
} {
  return {
    algorithm: hashes.algorithm,
    kind: hashes.kind,
    decoder: hashes.decoder,
    frames: hashes.frames.map((f) => ({ second: f.second, hash: f.hash, quality: f.quality })),
  };
}
