// Same and similar media found by a capture (issue 17, part 2): the capture's primary item
// against the other sources of its source's investigation — never another investigation. The
// same bytes (sha256) are read with the statement that locks the capture (capture-store.ts);
// PDQ neighbours of an image or video need a search of their own (one statement, only for an
// item that has hashes). Each match is a check of the item: `sameAs` / `similarTo`.
import { DEFAULT_MIN_QUALITY, type PairSummary, summarizePair } from '../media/pdq-match.ts';
import { type FrameHash, findSimilarHashes, type Queryable } from '../media/pdq-store.ts';
import type { Check, Json } from './checks.ts';

/** Matches recorded at most per item (nearest first): bounds the events of a much-cited picture. */
export const MAX_RECORDED_MATCHES = 20;
/** Hash pairs read at most for one item. */
const MAX_PAIRS = 20_000;

export interface NearMatch extends PairSummary {
  evidenceId: string;
}

/** The item's PDQ hashes as describe() recorded them in its metadata, good enough to match. */
export function matchableFrames(metadata: unknown): FrameHash[] {
  const pdq = (metadata as { pdq?: { frames?: unknown } } | null)?.pdq;
  if (!Array.isArray(pdq?.frames)) return [];
  return (pdq.frames as FrameHash[]).filter(
    (f) => typeof f?.hash === 'string' && typeof f.second === 'number' && f.quality >= DEFAULT_MIN_QUALITY,
  );
}

/** PDQ neighbours of an item in the other sources of `investigationId`, within `distance`. */
export async function nearMatches(
  db: Queryable,
  q: {
    evidenceId: string;
    sourceId: string;
    investigationId: string;
    metadata: unknown;
    isVideo: boolean;
    distance: number;
  },
): Promise<NearMatch[]> {
  const frames = matchableFrames(q.metadata);
  if (frames.length === 0) return [];
  const hits = await findSimilarHashes(
    db,
    frames.map((f) => f.hash),
    {
      distance: q.distance,
      minQuality: DEFAULT_MIN_QUALITY,
      investigationIds: [q.investigationId],
      excludeEvidenceId: q.evidenceId,
      excludeSourceId: q.sourceId,
      limit: MAX_PAIRS,
    },
  );
  const byItem = new Map<string, typeof hits>();
  for (const h of hits) byItem.set(h.evidenceId, [...(byItem.get(h.evidenceId) ?? []), h]);
  return [...byItem].map(([evidenceId, mine]) => ({ evidenceId, ...summarizePair(frames, mine, q.isVideo) }));
}

/**
 * The checks of what was found: `sameAs` each item of the same bytes, `similarTo` each PDQ
 * neighbour that is not (with the distance searched, and for a video its matched seconds, share
 * and offset). A match is a finding, so it passes; the most alike first, at most
 * MAX_RECORDED_MATCHES.
 */
export function matchChecks(input: {
  sha256: string;
  sameBytes: readonly string[];
  near: readonly NearMatch[];
  distance: number;
  hashedSeconds: number;
}): Check[] {
  const same = [...new Set(input.sameBytes)].sort();
  const sameChecks: Check[] = same.map((evidenceId) => ({
    name: 'sameAs',
    expected: { evidenceId },
    observed: { sha256: input.sha256 },
    passed: true,
  }));
  const near = input.near
    .filter((m) => !same.includes(m.evidenceId))
    .sort(
      (a, b) =>
        (b.share ?? 0) - (a.share ?? 0) ||
        a.distance - b.distance ||
        a.evidenceId.localeCompare(b.evidenceId),
    );
  const nearChecks = near.map(({ evidenceId, ...found }): Check => {
    const observed: { [key: string]: Json } = { distance: found.distance };
    if (found.matchedSeconds !== undefined) {
      observed.matchedSeconds = found.matchedSeconds;
      observed.hashedSeconds = input.hashedSeconds;
      observed.share = Math.round((found.share ?? 0) * 1000) / 1000;
      observed.offsetSeconds = found.offsetSeconds ?? 0;
    }
    return {
      name: 'similarTo',
      expected: { evidenceId, maxDistance: input.distance },
      observed,
      passed: true,
    };
  });
  return [...sameChecks, ...nearChecks].slice(0, MAX_RECORDED_MATCHES);
}
