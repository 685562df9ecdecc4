// Evidence items' SQL on the write path (src/db/unit-of-work.ts): rows shaped like Prisma's
// `EvidenceItem`, so evidenceView serves rows read either way; changes for src/db/sql-change.ts.
import { jsonb, type SqlChange } from '../db/sql-change.ts';
import type { WriteTx } from '../db/unit-of-work.ts';
import type { EvidenceKind } from '../generated/prisma/enums.ts';
import type { EvidenceRow } from './evidence.view.ts';

/** The columns of an evidence row, `size` as text (int8): rowOf converts it. */
export const EVIDENCE_COLUMNS = `e.id, e.source_id AS "sourceId", e.capture_id AS "captureId",
  e.kind::text AS kind, e.media_type AS "mediaType", e.declared_type AS "declaredType",
  e.size::text AS size, e.sha256, e.metadata, e.checks, e.origin_url AS "originUrl",
  e.uploaded_by AS "uploadedBy", e.captured_at AS "capturedAt"`;

export type EvidenceSqlRow = Omit<EvidenceRow, 'size'> & { size: string };

export const evidenceRowOf = (r: EvidenceSqlRow): EvidenceRow => ({ ...r, size: BigInt(r.size) });

/** The item of these bytes in this source, if any (one per source and sha256). */
export async function evidenceBySha(
  tx: Pick<WriteTx, 'maybe'>,
  sourceId: string,
  sha256: string,
): Promise<EvidenceRow | undefined> {
  const row = await tx.maybe<EvidenceSqlRow>(
    `SELECT ${EVIDENCE_COLUMNS} FROM evidence_items e WHERE e.source_id = $1::uuid AND e.sha256 = $2`,
    [sourceId, sha256],
  );
  return row && evidenceRowOf(row);
}

export async function evidenceById(tx: Pick<WriteTx, 'one'>, id: string): Promise<EvidenceRow> {
  return evidenceRowOf(
    await tx.one<EvidenceSqlRow>(`SELECT ${EVIDENCE_COLUMNS} FROM evidence_items e WHERE e.id = $1::uuid`, [
      id,
    ]),
  );
}

export interface EvidenceInsert {
  id: string;
  sourceId: string;
  captureId: string | null;
  kind: EvidenceKind;
  mediaType: string;
  declaredType: string | null;
  size: number;
  sha256: string;
  metadata: unknown;
  checks: unknown[];
  originUrl: string | null;
  uploadedBy: string | null;
  capturedAt: Date;
}

export const insertEvidence =
  (e: EvidenceInsert): SqlChange =>
  (p) =>
    `INSERT INTO evidence_items (id, source_id, capture_id, kind, media_type, declared_type, size, sha256,
       metadata, checks, origin_url, uploaded_by, captured_at)
     VALUES (${p(e.id)}::uuid, ${p(e.sourceId)}::uuid, ${p(e.captureId)}::uuid, ${p(e.kind)}::"EvidenceKind",
       ${p(e.mediaType)}, ${p(e.declaredType)}, ${p(e.size)}::bigint, ${p(e.sha256)}, ${p(jsonb(e.metadata))}::jsonb,
       ${p(jsonb(e.checks))}::jsonb, ${p(e.originUrl)}, ${p(e.uploadedBy)}::uuid, ${p(e.capturedAt)}::timestamptz)`;

export const setEvidenceChecks =
  (id: string, checks: unknown[]): SqlChange =>
  (p) =>
    `UPDATE evidence_items SET checks = ${p(jsonb(checks))}::jsonb WHERE id = ${p(id)}::uuid`;
