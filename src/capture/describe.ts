// Describing stored bytes, for captures and uploads alike: the media type sniffed from the
// bytes (compared with what the server or uploader declared), then the metadata of the tool
// for that kind (ffprobe, EXIF, HTML, the X post record). A tool that fails on hostile or
// broken content leaves its error in the metadata; describing never fails a capture.
import { readFile, stat } from 'node:fs/promises';
import type { EvidenceKind } from '../generated/prisma/enums.ts';
import { recordedError } from '../lib/error-text.ts';
import { analyzeFile } from '../media/analyze.ts';
import { c2paReadable } from '../media/c2pa.ts';
import { c2paNotRead, c2paOfFile } from '../media/c2pa-evidence.ts';
import { hashFile, isHashable, pdqEventData } from '../media/pdq-evidence.ts';
import type { FrameHash } from '../media/pdq-store.ts';
import { compareDeclaredType, type SniffResult, sniffMediaType } from '../media/sniff.ts';
import { parseSyndicationPost, pickBestVideoVariant, postCreatedAt } from '../media/x-syndication.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { describeYtdlpInfo } from './platform/ytdlp-info.ts';

export interface Analysis {
  tool: string;
  metadata: Record<string, unknown>;
}

/** An item described, ready to be recorded (src/evidence/evidence-record.ts). */
export interface NewItem {
  kind: EvidenceKind;
  mediaType: string;
  declaredType: string | null;
  analysis: Analysis;
  /** Perceptual hashes of an image or video (issue 17), stored with the item; also in
   * `analysis.metadata.pdq`, so the metadata_extracted event carries them. */
  hashes?: FrameHash[];
}

const PROBE_TIMEOUT_MS = 60_000;
const MAX_RECORD_BYTES = 5 * 1024 * 1024;

type DescribeDeps = { blobs: BlobStore; ffprobePath: string; ffmpegPath?: string; c2paTrustAnchors?: string };

export async function describe(
  deps: DescribeDeps,
  input: {
    sha256: string;
    head: Buffer;
    declaredType: string | null;
    /** Kind fixed by the caller (a platform record); otherwise sniffed. */
    forcedKind?: EvidenceKind;
    baseUrl?: string;
  },
): Promise<NewItem> {
  const sniffed = await sniffMediaType(input.head);
  const kind: EvidenceKind = input.forcedKind ?? sniffed.kind;
  const record = kind === 'post_metadata' || kind === 'platform_metadata';
  const hashed = !record && isHashable(sniffed.mediaType);
  const c2paRead = kind !== 'post_metadata' && c2paReadable(sniffed.mediaType);
  // One local copy for the three readers: from S3 every copy is a download and a re-hash. Each
  // reader keeps its own failure (so the callback never throws); when the copy itself cannot
  // be made, each reader that would have run records that as its failure.
  const read = await deps.blobs
    .withLocalFile(input.sha256, async (path) => ({
      analysis: await analyze(deps, input, kind, sniffed, path).catch(failedAnalysis),
      hashes: hashed ? await perceptualHashes(deps, path, sniffed.mediaType) : undefined,
      c2pa: c2paRead ? await c2paOfFile(deps, path, sniffed.mediaType) : undefined,
    }))
    .catch((err: unknown) => ({
      analysis: failedAnalysis(err),
      hashes: hashed ? failedHashes(err) : undefined,
      c2pa: c2paRead ? c2paNotRead(err) : undefined,
    }));
  const { analysis, hashes, c2pa } = read;
  const metadata = { ...analysis.metadata } as NewItem['analysis']['metadata'];
  if (hashes) metadata.pdq = hashes.event;
  if (c2pa) metadata.c2pa = c2pa;
  const declared = input.declaredType?.slice(0, 255) ?? null;
  if (declared) {
    const cmp = compareDeclaredType(declared, sniffed.mediaType);
    metadata.declaredType = { declared: cmp.declared, sniffed: cmp.sniffed, consistent: cmp.consistent };
  }
  return {
    kind,
    mediaType: sniffed.mediaType,
    declaredType: declared,
    analysis: { tool: analysis.tool, metadata },
    ...(hashes?.frames.length ? { hashes: hashes.frames } : {}),
  };
}

/** The metadata of the tool for the item's kind, read from the local copy at `path`. */
async function analyze(
  deps: DescribeDeps,
  input: { baseUrl?: string; declaredType: string | null },
  kind: EvidenceKind,
  sniffed: SniffResult,
  path: string,
): Promise<Analysis> {
  if (kind === 'post_metadata') return describePostRecord(path);
  if (kind === 'platform_metadata') return describeYtdlpInfo(path);
  return analyzeFile(path, {
    kind: sniffed.kind,
    ffprobePath: deps.ffprobePath,
    timeoutMs: PROBE_TIMEOUT_MS,
    baseUrl: input.baseUrl,
    contentType: input.declaredType,
  });
}

const failedAnalysis = (err: unknown): Analysis => ({
  tool: 'none',
  metadata: { error: recordedError(err) },
});

type PerceptualHashes = { frames: FrameHash[]; event: Record<string, unknown> };

const failedHashes = (err: unknown): PerceptualHashes => ({
  frames: [],
  event: { algorithm: 'pdq', error: recordedError(err) },
});

/** PDQ of an image, or of one frame a second of a video. Content that does not decode (or no
 * ffmpeg here) leaves its reason in the metadata, like any tool. */
async function perceptualHashes(
  deps: { ffprobePath: string; ffmpegPath?: string },
  path: string,
  mediaType: string,
): Promise<PerceptualHashes | undefined> {
  try {
    const hashes = await hashFile(deps, path, mediaType);
    return hashes ? { frames: hashes.frames, event: pdqEventData(hashes) } : undefined;
  } catch (err) {
    return failedHashes(err);
  }
}

/** The facts of an X post record worth reading without opening the JSON. */
async function describePostRecord(path: string) {
  if ((await stat(path)).size > MAX_RECORD_BYTES)
    throw new Error(`post record larger than ${MAX_RECORD_BYTES} bytes`);
  const text = await readFile(path, 'utf8');
  const post = parseSyndicationPost(JSON.parse(text));
  return {
    tool: 'x-syndication',
    metadata: {
      postId: post.id_str,
      text: post.text.slice(0, 10_000),
      createdAt: postCreatedAt(post),
      screenName: post.user.screen_name,
      authorName: post.user.name,
      media: pickBestVideoVariant(post).map((v) => ({
        type: v.mediaType,
        declaredDurationSeconds: v.declaredDurationSeconds,
        url: v.url,
        bitrate: v.bitrate,
      })),
      photos: (post.mediaDetails ?? [])
        .filter((m) => m.type === 'photo' && m.media_url_https)
        .map((m) => m.media_url_https as string),
    },
  };
}
