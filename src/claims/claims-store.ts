// Claims' and citations' SQL on the write path (src/db/unit-of-work.ts): each function one
// parameterized statement in the caller's transaction (or a change for src/db/sql-change.ts),
// returning rows shaped like Prisma's `Claim`, so the views serve rows read either way.
import { newId } from '../db/ids.ts';
import type { Prisma } from '../db/prisma.ts';
import { jsonb, type SqlChange } from '../db/sql-change.ts';
import type { WriteTx } from '../db/unit-of-work.ts';

export type ClaimRow = Prisma.ClaimGetPayload<object>;

/** The columns of a ClaimRow, for RETURNING and SELECT lists. */
export const CLAIM_COLUMNS = `id, investigation_id AS "investigationId", statement,
  claimant_name AS "claimantName", claimant_role AS "claimantRole", claimed_at AS "claimedAt",
  language, tags, status::text AS status, created_by AS "createdBy", created_at AS "createdAt",
  updated_at AS "updatedAt"`;

export interface NewClaim {
  investigationId: string;
  statement: string;
  claimantName: string;
  claimantRole: string | null;
  claimedAt: Date | null;
  language: string | null;
  tags: string[];
  createdBy: string;
  at: Date;
}

export function insertClaim(tx: WriteTx, c: NewClaim): Promise<ClaimRow> {
  return tx.one<ClaimRow>(
    `INSERT INTO claims (id, investigation_id, statement, claimant_name, claimant_role, claimed_at,
       language, tags, created_by, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
     RETURNING ${CLAIM_COLUMNS}`,
    [
      newId(),
      c.investigationId,
      c.statement,
      c.claimantName,
      c.claimantRole,
      c.claimedAt,
      c.language,
      c.tags,
      c.createdBy,
      c.at,
    ],
  );
}

/** The claim, locked until the transaction ends (two concurrent edits each see the true
 * before-state). */
export function lockClaim(tx: WriteTx, id: string): Promise<ClaimRow | undefined> {
  return tx.maybe<ClaimRow>(`SELECT ${CLAIM_COLUMNS} FROM claims WHERE id = $1::uuid FOR UPDATE`, [id]);
}

/** Every editable field and updated_at, set to the row's values. */
export const updateClaimRow =
  (c: ClaimRow): SqlChange =>
  (p) =>
    `UPDATE claims SET statement = ${p(c.statement)}, claimant_name = ${p(c.claimantName)},
       claimant_role = ${p(c.claimantRole)}, claimed_at = ${p(c.claimedAt)}::timestamptz,
       language = ${p(c.language)}, tags = ${p(c.tags)}::text[], status = ${p(c.status)}::"ClaimStatus",
       updated_at = ${p(c.updatedAt)}::timestamptz
     WHERE id = ${p(c.id)}::uuid`;

export interface NewCitation {
  id: string;
  claimId: string;
  sourceId: string;
  relation: string;
  expected: Record<string, unknown>;
  note: string | null;
  createdAt: Date;
}

export const insertCitation =
  (c: NewCitation): SqlChange =>
  (p) =>
    `INSERT INTO citations (id, claim_id, source_id, relation, expected, note, created_at)
     VALUES (${p(c.id)}::uuid, ${p(c.claimId)}::uuid, ${p(c.sourceId)}::uuid, ${p(c.relation)}::"CitationRelation",
       ${p(jsonb(c.expected))}::jsonb, ${p(c.note)}, ${p(c.createdAt)}::timestamptz)`;

/** What every citation of a source declares, oldest citation first. */
export async function citationExpectations(
  tx: Pick<WriteTx, 'rows'>,
  sourceId: string,
): Promise<Record<string, unknown>[]> {
  const rows = await tx.rows<{ expected: Record<string, unknown> }>(
    'SELECT expected FROM citations WHERE source_id = $1::uuid ORDER BY created_at',
    [sourceId],
  );
  return rows.map((r) => r.expected);
}
