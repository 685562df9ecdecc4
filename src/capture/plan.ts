// What a capture fetches. A plain URL is fetched as it was cited; a web page adds the media it
// declares (og:video, og:image, twitter:player:stream), one level deep, and with a browser
// the media its rendered DOM shows (<video>, <source>). An X post is read
// through the platform's public syndication record (X pages need JavaScript and a login, so
// the x.com page itself is not fetched): the record is kept as `post_metadata` evidence and
// every attached video (highest-bitrate MP4) and photo is captured.
import type { Config } from '../config/env.ts';
import type { PrismaClient } from '../db/prisma.ts';
import type { EvidenceKind } from '../generated/prisma/enums.ts';
import { syndicationUrl } from '../media/x-syndication.ts';
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

/**
 * The host whose share of capture slots a capture takes: the host of the first URL it fetches
 * (a cited URL's host with its port; for every X post the syndication service's host, which
 * is where all X captures go first). Undefined when the source cannot be planned (the capture
 * then fails on that at once).
 */
export function captureHost(
  source: SourceLike,
  config: Pick<Config, 'X_SYNDICATION_URL'>,
): string | undefined {
  try {
    const first = planSource(source, config)[0];
    return first ? new URL(first.url).host.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/** Targets a fetched step adds: a record's media, a page's declared media. `metadata`: the
 * item's, when the caller holds it (else it is read). */
export async function planFollowUps(
  deps: { prisma: PrismaClient },
  target: Target,
  step: CaptureStep,
  queued: readonly Target[],
  metadata?: Record<string, unknown>,
): Promise<Target[]> {
  const fresh = (urls: string[], role: Target['role']) => freshTargets(queued, urls, role);

  // Both read what describe() extracted when the item was stored (the same bytes always
  // describe the same way), so nothing is parsed twice.
  const metaOf = () => (metadata ? Promise.resolve(metadata) : itemMetadata(deps.prisma, step.evidenceId));
  if (target.role === 'post_metadata') {
    const meta = await metaOf();
    if (typeof meta.postId !== 'string') {
      const why = typeof meta.error === 'string' ? meta.error : 'no post in the record';
      throw new PlanError('bad_post_metadata', `post record unreadable: ${why}`.slice(0, 500));
    }
    const videos = Array.isArray(meta.media) ? (meta.media as { url?: unknown }[]).map((m) => m.url) : [];
    const photos = Array.isArray(meta.photos) ? (meta.photos as unknown[]) : [];
    return fresh(
      [...videos, ...photos].filter((u): u is string => typeof u === 'string'),
      'post_media',
    );
  }
  if (target.role === 'cited' && step.kind === 'page') {
    const meta = await metaOf();
    const declared = Array.isArray(meta.declaredMedia) ? (meta.declaredMedia as { url?: unknown }[]) : [];
    const urls = declared.map((d) => d.url).filter((u): u is string => typeof u === 'string');
    return fresh(urls, 'declared').slice(0, MAX_DECLARED_MEDIA);
  }
  return [];
}

/**
 * Media the rendered page shows or declares (the browser step's `dom` item: its `<video>` and
 * `<source>` elements, and og:video and friends as script left them), fetched as media the
 * page declares: through the guarded fetcher, one level deep, at most MAX_DECLARED_MEDIA.
 * `metadata`: the dom item's, when the caller holds it (else it is read).
 */
export async function planRenderedFollowUps(
  deps: { prisma: PrismaClient },
  domEvidenceId: string,
  queued: readonly Target[],
  metadata?: Record<string, unknown>,
): Promise<Target[]> {
  const meta = metadata ?? (await itemMetadata(deps.prisma, domEvidenceId));
  const listed = (v: unknown) => (Array.isArray(v) ? (v as { url?: unknown }[]) : []);
  const urls = [...listed(meta.renderedMedia), ...listed(meta.declaredMedia)]
    .map((d) => d.url)
    .filter((u): u is string => typeof u === 'string');
  return freshTargets(queued, urls, 'declared').slice(0, MAX_DECLARED_MEDIA);
}

/** `urls` not queued yet, each once, as targets of `role`. */
function freshTargets(queued: readonly Target[], urls: readonly string[], role: Target['role']): Target[] {
  const seen = new Set(queued.map((t) => t.url));
  return urls.filter((u) => !seen.has(u) && seen.add(u)).map((url): Target => ({ url, role }));
}

async function itemMetadata(prisma: PrismaClient, evidenceId: string): Promise<Record<string, unknown>> {
  const item = await prisma.evidenceItem.findUnique({
    where: { id: evidenceId },
    select: { metadata: true },
  });
  const meta = item?.metadata;
  return meta && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
}
