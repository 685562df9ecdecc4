// The checks a capture finds beyond what citations declare, for its primary item when the
// capture ends: matches in the other sources of the investigation (match-checks.ts) and the
// claims' dates against the dates the captured post or page states (consistency-checks.ts).
// Everything comes from the completion's locked read (capture-store.ts) but the PDQ search.
import type { Queryable } from '../media/pdq-store.ts';
import { kindOf } from '../media/sniff.ts';
import type { CompletionReads } from './capture-store.ts';
import type { Check } from './checks.ts';
import { claimDateChecks, type DatedFact, datedFact } from './consistency-checks.ts';
import { matchableFrames, matchChecks, type NearMatch, nearMatches } from './match-checks.ts';

export interface PrimaryItem {
  id: string;
  kind: string;
  mediaType: string;
  sha256: string;
  metadata: unknown;
}

/** PDQ neighbours of the primary item (no statement for an item without hashes). */
export function primaryNearMatches(
  db: Queryable,
  item: PrimaryItem,
  reads: Pick<CompletionReads, 'investigationId'> & { sourceId: string },
  distance: number,
): Promise<NearMatch[]> {
  if (matchableFrames(item.metadata).length === 0) return Promise.resolve([]);
  return nearMatches(db, {
    evidenceId: item.id,
    sourceId: reads.sourceId,
    investigationId: reads.investigationId,
    metadata: item.metadata,
    isVideo: kindOf(item.mediaType) === 'video',
    distance,
  });
}

export function foundChecks(
  item: PrimaryItem,
  reads: CompletionReads,
  near: readonly NearMatch[],
  distance: number,
): Check[] {
  // The primary item itself may be the post record or the page (nothing else was captured),
  // recorded in the statement that ends the capture, so not among the items read.
  const facts = new Map<string, DatedFact>();
  for (const d of [...reads.dated, item]) {
    const fact = datedFact(d);
    if (fact) facts.set(fact.evidenceId, fact);
  }
  return [
    ...claimDateChecks(reads.claimDates, [...facts.values()]),
    ...matchChecks({
      sha256: item.sha256,
      sameBytes: reads.sameBytes.filter((id) => id !== item.id),
      near,
      distance,
      hashedSeconds: matchableFrames(item.metadata).length,
    }),
  ];
}
