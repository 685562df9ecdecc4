// Claims' and citations' SQL on the write path (src/db/unit-of-work.ts): each function one
// parameterized statement in the caller's transaction, a change for src/db/sql-change.ts, or a
// statement for writeWithEvent (ledger.repository.ts) to run with its event — on rows shaped like
// Prisma's `Claim`, so the views serve rows read either way.
import { investigationVisibleSql, visibilityParams } from '../access/access.ts';
import type { Principal } from '../access/principal.ts';
import type { Prisma } from '../db/prisma.ts';
import { jsonb, type SqlChange } from '../db/sql-change.ts';
import type { WriteTx } from '../db/unit-of-work.ts';
import type { Statement } from '../ledger/ledger.repository.ts';

export type ClaimRow = Prisma.ClaimGetPayload<object>;

/** The columns of a ClaimRow, for RETURNING and SELECT lists. */
export const CLAIM_COLUMNS = `id, investigation_id AS "investigationId", statement,
  claimant_name AS "claimantName", claimant_role AS "claimantRole", claimant_time_zone AS "claimantTimeZone", claimed_at AS "claimedAt",
  claimed_at_precision::text AS "claimedAtPrecision", language, tags, status::text AS status, created_by AS "createdBy", created_at AS "createdAt",
  updated_at AS "updatedAt"`;

export interface NewClaim {
  investigationId: string;
  statement: string;
  claimantName: string;
  claimantRole: string | null;
  /** The claimant's IANA time zone (absent: none stated). */
  claimantTimeZone?: string | null;
  claimedAt: Date | null;
  claimedAtPrecision: ClaimRow['claimedAtPrecision'];
  language: string | null;
  tags: string[];
  createdBy: string;
  at: Date;
}

/** A new claim's row exactly as claimInsert stores it (status starts unverified, API.md). */
export const newClaimRow = (c: NewClaim & { id: string }): ClaimRow => ({
  id: c.id,
  investigationId: c.investigationId,
  statement: c.statement,
  claimantName: c.claimantName,
  claimantRole: c.claimantRole,
  claimantTimeZone: c.claimantTimeZone ?? null,
  claimedAt: c.claimedAt,
  claimedAtPrecision: c.claimedAtPrecision,
  language: c.language,
  tags: c.tags,
  status: 'unverified',
  createdBy: c.createdBy,
  createdAt: c.at,
  updatedAt: c.at,
});

/**
 * The INSERT of `row` (from newClaimRow) for writeWithEvent (src/ledger/ledger.repository.ts),
 * made only if `viewer` may see the claim's investigation (access.ts): no row, and so no event,
 * when it does not exist or is not theirs. Every column is given, so the stored row is the one
 * its claim_created event describes, and checking, writing and appending are one statement.
 */
export function claimInsert(row: ClaimRow, viewer: Principal): Statement {
  return {
    text: `INSERT INTO claims (id, investigation_id, statement, claimant_name, claimant_role, claimed_at,
       claimed_at_precision, language, tags, status, created_by, created_at, updated_at, claimant_time_zone)
     SELECT $1::uuid, i.id, $3::text, $4::text, $5::text, $6::timestamptz, $14::"ClaimedAtPrecision",
       $7::text, $8::text[], 'unverified', $9::uuid, $10::timestamptz, $11::timestamptz, $15::text
     FROM investigations i
     WHERE i.id = $2::uuid AND ${investigationVisibleSql('i', '$12', '$13')}
     RETURNING id AS subject_id`,
    params: [
      row.id,
      row.investigationId,
      row.statement,
      row.claimantName,
      row.claimantRole,
      row.claimedAt,
      row.language,
      row.tags,
      row.createdBy,
      row.createdAt,
      row.updatedAt,
      ...visibilityParams(viewer),
      row.claimedAtPrecision,
      row.claimantTimeZone,
    ],
  };
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
       claimant_role = ${p(c.claimantRole)}, claimant_time_zone = ${p(c.claimantTimeZone)},
       claimed_at = ${p(c.claimedAt)}::timestamptz,
       claimed_at_precision = ${p(c.claimedAtPrecision)}::"ClaimedAtPrecision",
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

/** Deletes a citation of `claimId`; the deleted row, or nothing when it was not there (of two
 * racing withdrawals, one gets the row). */
export function deleteCitation(
  tx: WriteTx,
  q: { id: string; claimId: string },
): Promise<{ sourceId: string; relation: string } | undefined> {
  return tx.maybe(
    `DELETE FROM citations WHERE id = $1::uuid AND claim_id = $2::uuid
     RETURNING source_id AS "sourceId", relation::text AS relation`,
    [q.id, q.claimId],
  );
}

/** A claimedAt as the API accepts it (a date or a date-time) → the columns that keep it. */
export function claimedAtColumns(given: string | null): Pick<ClaimRow, 'claimedAt' | 'claimedAtPrecision'> {
  if (given === null) return { claimedAt: null, claimedAtPrecision: 'datetime' };
  // A calendar date is that day's UTC midnight, shown back as the date.
  if (/^\d{4}-\d{2}-\d{2}$/.test(given))
    return { claimedAt: new Date(`${given}T00:00:00.000Z`), claimedAtPrecision: 'date' };
  return { claimedAt: new Date(given), claimedAtPrecision: 'datetime' };
}
