// Claims' SQL on the write path (src/db/unit-of-work.ts): each function one parameterized
// statement in the caller's transaction, returning rows shaped like Prisma's `Claim`, so the
// views serve rows read either way.
import type { Prisma } from '../db/prisma.ts';
import type { Statement } from '../ledger/ledger.repository.ts';

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

/** A new claim's row exactly as claimInsert stores it (status starts unverified, API.md). */
export const newClaimRow = (c: NewClaim & { id: string }): ClaimRow => ({
  id: c.id,
  investigationId: c.investigationId,
  statement: c.statement,
  claimantName: c.claimantName,
  claimantRole: c.claimantRole,
  claimedAt: c.claimedAt,
  language: c.language,
  tags: c.tags,
  status: 'unverified',
  createdBy: c.createdBy,
  createdAt: c.at,
  updatedAt: c.at,
});

/**
 * The INSERT of `row` (from newClaimRow) for writeWithEvent (src/ledger/ledger.repository.ts):
 * every column given, so the stored row is the one its claim_created event describes, and the
 * claim and its event are one statement.
 */
export function claimInsert(row: ClaimRow): Statement {
  return {
    text: `INSERT INTO claims (id, investigation_id, statement, claimant_name, claimant_role, claimed_at,
       language, tags, status, created_by, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'unverified', $9, $10, $11)
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
    ],
  };
}
