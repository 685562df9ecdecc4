// Sources' SQL on the write path (src/db/unit-of-work.ts): rows shaped like Prisma's `Source`
// (so sourceView serves rows read either way) and changes for src/db/sql-change.ts.
import type { Prisma } from '../db/prisma.ts';
import { jsonb, type SqlChange } from '../db/sql-change.ts';
import type { WriteTx } from '../db/unit-of-work.ts';
import type { SourceStatus } from '../generated/prisma/enums.ts';

export type SourceRow = Prisma.SourceGetPayload<object>;

export const SOURCE_COLUMNS = `s.id, s.investigation_id AS "investigationId", s.url,
  s.normalized_url AS "normalizedUrl", s.platform, s.status::text AS status, s.failure,
  s.recapture_every_seconds AS "recaptureEverySeconds", s.created_at AS "createdAt"`;

export interface CitedSource extends SourceRow {
  /** The claim already cites the source with this relation. */
  duplicate: boolean;
  /** `progress` of the source's latest completed capture (its primary item is checked). */
  lastProgress: Prisma.JsonValue | null;
}

/**
 * The source a citation reuses: the oldest of the investigation with this normalized URL or,
 * for an X post, this post id (any spelling of the post). With it, whether the claim already
 * cites it as `relation` and the progress of its latest completed capture: one statement.
 */
export function citedSource(
  tx: Pick<WriteTx, 'maybe'>,
  q: { investigationId: string; claimId: string; relation: string; postId?: string; normalizedUrl: string },
): Promise<CitedSource | undefined> {
  const match = q.postId === undefined ? 's.normalized_url = $2' : "s.platform->>'postId' = $2";
  return tx.maybe<CitedSource>(
    `SELECT ${SOURCE_COLUMNS},
       EXISTS (SELECT 1 FROM citations c WHERE c.claim_id = $3::uuid AND c.source_id = s.id
               AND c.relation = $4::"CitationRelation") AS duplicate,
       (SELECT c.progress FROM captures c WHERE c.source_id = s.id AND c.status = 'completed'
        ORDER BY c.finished_at DESC LIMIT 1) AS "lastProgress"
     FROM sources s WHERE s.investigation_id = $1::uuid AND ${match}
     ORDER BY s.created_at LIMIT 1`,
    [q.investigationId, q.postId ?? q.normalizedUrl, q.claimId, q.relation],
  );
}

export const insertSource =
  (
    s: Pick<SourceRow, 'id' | 'investigationId' | 'url' | 'normalizedUrl' | 'platform' | 'createdAt'>,
  ): SqlChange =>
  (p) =>
    `INSERT INTO sources (id, investigation_id, url, normalized_url, platform, created_at)
     VALUES (${p(s.id)}::uuid, ${p(s.investigationId)}::uuid, ${p(s.url)}, ${p(s.normalizedUrl)},
       ${p(s.platform === null ? null : jsonb(s.platform))}::jsonb, ${p(s.createdAt)}::timestamptz)`;

/** A capture started on the source. */
export const markSourceCapturing =
  (id: string): SqlChange =>
  (p) =>
    `UPDATE sources SET status = 'capturing' WHERE id = ${p(id)}::uuid`;

/** How the source's capture ended: its status and failure (null clears it). */
export const setSourceOutcome =
  (id: string, status: SourceStatus, failure: { code: string; detail: string } | null): SqlChange =>
  (p) =>
    `UPDATE sources SET status = ${p(status)}::"SourceStatus", failure = ${p(failure === null ? null : jsonb(failure))}::jsonb
     WHERE id = ${p(id)}::uuid`;

export const setRecaptureEvery =
  (id: string, everySeconds: number | null): SqlChange =>
  (p) =>
    `UPDATE sources SET recapture_every_seconds = ${p(everySeconds)}::int WHERE id = ${p(id)}::uuid`;
