// How one item's hashes match another's, from the hits of a search (pdq-store.ts): the nearest
// distance and, for a video, how many of its seconds have a match in the other and the offset
// between them (the other's second minus this one's, the most common among the matched
// seconds: a clip cut from the middle of a longer video shows where it starts). Shared by
// GET /v1/evidence/:id/similar and the checks a capture records.
import type { FrameHash, SimilarHash } from './pdq-store.ts';

/** vPDQ's recommended floor: hashes of flat pictures say little. */
export const DEFAULT_MIN_QUALITY = 50;

export interface PairSummary {
  distance: number;
  /** Video only. */
  matchedSeconds?: number;
  share?: number;
  offsetSeconds?: number;
}

/** `hits`: those of one other item, found for the query `frames` (hit.query indexes them). */
export function summarizePair(
  frames: readonly FrameHash[],
  hits: readonly SimilarHash[],
  isVideo: boolean,
): PairSummary {
  const distance = Math.min(...hits.map((h) => h.distance));
  if (!isVideo) return { distance };
  const matchedSeconds = new Set(hits.map((h) => frames[h.query]!.second));
  const offsets = new Map<number, number>();
  for (const h of hits) {
    const offset = h.second - frames[h.query]!.second;
    offsets.set(offset, (offsets.get(offset) ?? 0) + 1);
  }
  const offsetSeconds = [...offsets].sort((a, b) => b[1] - a[1] || Math.abs(a[0]) - Math.abs(b[0]))[0]![0];
  return {
    distance,
    matchedSeconds: matchedSeconds.size,
    share: matchedSeconds.size / frames.length,
    offsetSeconds,
  };
}
