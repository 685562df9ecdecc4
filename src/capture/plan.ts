// What a capture fetches. A plain URL is fetched as it was cited; a web page adds the media it
// declares (og:video, og:image, twitter:player:stream), one level deep. An X post is read
// through the platform's public syndication record (X pages need JavaScript and a login, so
// the x.com page itself is not fetched): the record is kept as `post_metadata` evidence and
// every attached video (highest-bitrate MP4) and photo is captured.
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/env.ts';
import type { PrismaClient } from '../db/prisma.ts';
import type { EvidenceKind } from '../generated/prisma/index.js';
import { parseSyndicationPost, pickBestVideoVariant, syndicationUrl } from '../media/x-syndication.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { CaptureStep } from './capture-store.ts';

export interface Target {
  url: string;
  /** Kind fixed by the plan (the syndication record); otherwise sniffed from the bytes. */
  kind?: EvidenceKind;
  accept?: string;
  /** Why it is fetched: the cited URL, a platform record, or media the content declared. */
  role: 'cited' | 'post_metadata' | 'declared' | 'post_media';
}

/** How many declared media one page may add (a hostile page could declare thousands). */
export const MAX_DECLARED_MEDIA = 8;
/** Syndication records are small; a bigger one is not what we asked for. */
const MAX_RECORD_BYTES = 5 * 1024 * 1024;

export class PlanError extends Error {
  override name = 'PlanError';
  constructor(
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

interface SourceLike {
  url: string;
  platform: unknown;
}

export function planSource(source: SourceLike, config: Pick<Config, 'X_SYNDICATION_URL'>): Target[] {
  const platform = source.platform as { name?: string; postId?: string } | null;
  if (platform?.name === 'x' && platform.postId) {
    return [
      {
        url: syndicationUrl(config.X_SYNDICATION_URL, platform.postId),
        kind: 'post_metadata',
        accept: 'application/json',
        role: 'post_metadata',
      },
    ];
  }
  return [{ url: source.url, role: 'cited' }];
}

/** Targets a fetched step adds: a record's media, a page's declared media. */
export async function planFollowUps(
  deps: { blobs: BlobStore; prisma: PrismaClient },
  target: Target,
  step: CaptureStep,
  queued: readonly Target[],
): Promise<Target[]> {
  const seen = new Set(queued.map((t) => t.url));
  const fresh = (urls: string[], role: Target['role']) =>
    urls.filter((u) => !seen.has(u) && seen.add(u)).map((url): Target => ({ url, role }));

  if (target.role === 'post_metadata') {
    const size = await deps.blobs.size(step.sha256);
    if (size === undefined || size > MAX_RECORD_BYTES)
      throw new PlanError(
        'bad_post_metadata',
        `post record is missing or larger than ${MAX_RECORD_BYTES} bytes`,
      );
    let post: ReturnType<typeof parseSyndicationPost>;
    try {
      const text = await deps.blobs.withLocalFile(step.sha256, (p) => readFile(p, 'utf8'));
      post = parseSyndicationPost(JSON.parse(text));
    } catch (err) {
      throw new PlanError(
        'bad_post_metadata',
        `post record unreadable: ${(err as Error).message}`.slice(0, 500),
      );
    }
    return fresh(postMediaUrls(post), 'post_media');
  }
  if (target.role === 'cited' && step.kind === 'page') {
    const item = await deps.prisma.evidenceItem.findUnique({ where: { id: step.evidenceId } });
    const declared = (item?.metadata as { declaredMedia?: { url?: unknown }[] } | null)?.declaredMedia ?? [];
    const urls = declared.map((d) => d.url).filter((u): u is string => typeof u === 'string');
    return fresh(urls, 'declared').slice(0, MAX_DECLARED_MEDIA);
  }
  return [];
}

function postMediaUrls(post: ReturnType<typeof parseSyndicationPost>): string[] {
  const urls: string[] = [];
  for (const v of pickBestVideoVariant(post)) urls.push(v.url);
  for (const m of post.mediaDetails ?? []) {
    if (m.type === 'photo' && m.media_url_https) urls.push(m.media_url_https);
  }
  return urls;
}
