// A cited source as the claim page shows it, and as its live fragment re-renders it while a
// capture runs: platform facts, capture state, checks in words, preserved items with sha256,
// and where else in the investigation the same bytes are cited.
import type { Principal } from '../access/principal.ts';
import type { PrismaClient } from '../db/prisma.ts';
import type { SourceView } from '../sources/sources.service.ts';
import { sameContentElsewhere } from './queries.ts';
import { type CheckLike, checkWords } from './words.ts';

/** How an item is previewed: media elements for media, a sandboxed frame for anything else. */
export function previewOf(mediaType: string): 'image' | 'video' | 'audio' | 'archive' | 'frame' {
  if (mediaType.startsWith('image/')) return 'image'; // a page's screenshot (PNG) too
  if (mediaType.startsWith('video/')) return 'video';
  if (mediaType.startsWith('audio/')) return 'audio';
  // A web archive (WACZ) or any ZIP is not something to render: it is downloaded and replayed.
  if (mediaType === 'application/wacz' || mediaType === 'application/zip') return 'archive';
  return 'frame'; // pages, rendered DOMs, post records, platform info JSON, documents: sandboxed
}

const asChecks = (v: unknown): CheckLike[] => (Array.isArray(v) ? (v as CheckLike[]) : []);

/** Cards of sources the caller has been shown (through getClaim or visibleSource). */
export async function sourceCards(
  prisma: PrismaClient,
  p: Principal,
  investigationId: string,
  sources: readonly SourceView[],
) {
  const elsewhere = await sameContentElsewhere(
    prisma,
    p,
    investigationId,
    sources.flatMap((s) => s.evidence.map((e) => ({ sourceId: s.id, sha256: e.sha256 }))),
  );
  return sources.map((s) => {
    const caps = s.captures;
    const running = caps.some((c) => c.status === 'queued' || c.status === 'running');
    return {
      id: s.id,
      url: s.url,
      normalizedUrl: s.normalizedUrl,
      platform: s.platform as { name: string; handle?: string; postId?: string } | null,
      status: s.status,
      failure: s.failure as { code: string; detail: string } | null,
      // Poll while anything is still to happen; the last fragment carries no trigger.
      live: running || s.status === 'pending' || s.status === 'capturing',
      latestCapture: caps[0] ?? null,
      checks: asChecks(s.checks).map(checkWords),
      custody: s.custody,
      evidence: s.evidence.map((e) => ({
        id: e.id,
        kind: e.kind,
        mediaType: e.mediaType,
        size: e.size,
        sha256: e.sha256,
        capturedAt: e.capturedAt,
        preview: previewOf(e.mediaType),
        checks: asChecks(e.checks).map(checkWords),
        elsewhere: elsewhere(s.id, e.sha256),
      })),
    };
  });
}
export type SourceCard = Awaited<ReturnType<typeof sourceCards>>[number];
