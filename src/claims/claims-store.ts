// Claims' SQL on the write path (src/db/unit-of-work.ts): each function one parameterized
// statement — run in the caller's transaction, or built for writeWithEvent to run with its
// event — on rows shaped like Prisma's `Claim`, so the views serve rows read either way.
import { investigationVisibleSql, visibilityParams } from '../access/access.ts';
import type { Principal } from '../access/principal.ts';
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
 * The INSERT of `row` (from newClaimRow) for writeWithEvent (src/ledger/ledger.repository.ts),
 * made only if `viewer` may see the claim's investigation (access.ts): no row, and so no event,
 * when it does not exist or is not theirs. Every column is given, so the stored row is the one
 * its claim_created event describes, and checking, writing and appending are one statement.
 */
export function claimInsert(row: ClaimRow, viewer: Principal): Statement {
  return {
    text: `INSERT INTO claims (id, investigation_id, statement, claimant_name, claimant_role, claimed_at,
       language, tags, status, created_by, created_at, updated_at)
     SELECT $1::uuid, i.id, $3::text, $4::text, $5::text, $6::timestamptz, $7::text, $8::text[],
       'unverified', $9::uuid, $10::timestamptz, $11::timestamptz
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
    ],
  };
}
