// Same and similar media of one evidence item, within the investigations the caller may see:
// the same bytes (sha256) and PDQ neighbours (src/media/pdq-store.ts), each summarized by
// src/media/pdq-match.ts (for a video: matched seconds and offset).
import type { Principal } from '../access/principal.ts';
import type { AppContext } from '../context.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { PDQ_MATCH_DISTANCE } from '../media/pdq.ts';
import { DEFAULT_MIN_QUALITY, summarizePair } from '../media/pdq-match.ts';
import { findSimilarHashes, mediaHashesOf } from '../media/pdq-store.ts';
import { kindOf } from '../media/sniff.ts';
import { visibleEvidence } from './evidence.service.ts';
import type { SimilarMatch, SimilarResponse } from './similar-view.schema.ts';

/** Hash pairs read at most for one item (a 31-second video cited everywhere stays far below). */
const MAX_PAIRS = 20_000;

/** Investigations `p` may see; undefined for an admin (all of them). */
async function visibleInvestigations(prisma: PrismaClient, p: Principal): Promise<string[] | undefined> {
  if (p.role === 'admin') return undefined;
  const rows = await prisma.membership.findMany({
    where: { userId: p.id },
    select: { investigationId: true },
  });
  return rows.map((r) => r.investigationId);
}

export async function similarEvidence(
  deps: Pick<AppContext, 'prisma' | 'pool'>,
  p: Principal,
  id: string,
  options: { distance?: number; minQuality?: number } = {},
): Promise<SimilarResponse> {
  const item = await visibleEvidence(deps.prisma, p, id); // 404 for outsiders
  const distance = options.distance ?? PDQ_MATCH_DISTANCE;
  const minQuality = options.minQuality ?? DEFAULT_MIN_QUALITY;
  const investigationIds = await visibleInvestigations(deps.prisma, p);
  const scope = investigationIds ? { source: { investigationId: { in: investigationIds } } } : {};

  const frames = (await mediaHashesOf(deps.pool, id)).filter((f) => f.quality >= minQuality);
  const hits = await findSimilarHashes(
    deps.pool,
    frames.map((f) => f.hash),
    { distance, minQuality, investigationIds, excludeEvidenceId: id, limit: MAX_PAIRS },
  );
  const same = await deps.prisma.evidenceItem.findMany({
    where: { sha256: item.sha256, id: { not: id }, ...scope },
    select: { id: true },
  });
  const ids = [...new Set([...same.map((s) => s.id), ...hits.map((h) => h.evidenceId)])];
  const items = await deps.prisma.evidenceItem.findMany({
    where: { id: { in: ids } },
    include: { source: { select: { investigationId: true } } },
  });
  const sameIds = new Set(same.map((s) => s.id));
  const isVideo = kindOf(item.mediaType) === 'video';

  const matches: SimilarMatch[] = items.map((other) => {
    const mine = hits.filter((h) => h.evidenceId === other.id);
    const base = {
      evidenceId: other.id,
      sourceId: other.sourceId,
      investigationId: other.source.investigationId,
      kind: other.kind,
      mediaType: other.mediaType,
      sha256: other.sha256,
    };
    if (sameIds.has(other.id)) {
      const video = isVideo
        ? { matchedSeconds: frames.length, share: frames.length ? 1 : 0, offsetSeconds: 0 }
        : {};
      return { ...base, relation: 'sameAs', distance: 0, ...video };
    }
    return { ...base, relation: 'similarTo', ...summarizePair(frames, mine, isVideo) };
  });
  // Same bytes first, then the most of this item matched, then the nearest.
  matches.sort(
    (a, b) =>
      Number(b.relation === 'sameAs') - Number(a.relation === 'sameAs') ||
      (b.share ?? 0) - (a.share ?? 0) ||
      a.distance - b.distance ||
      a.evidenceId.localeCompare(b.evidenceId),
  );
  return { evidenceId: id, distance, minQuality, hashedSeconds: frames.length, matches };
}
