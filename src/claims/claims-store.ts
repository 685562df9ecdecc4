// Claims' SQL on the write path (src/db/unit-of-work.ts): each function one parameterized
// statement in the caller's transaction, returning rows shaped like Prisma's `Claim`, so the
// views serve rows read either way.
import { newId } from '../db/ids.ts';
import type { Prisma } from '../db/prisma.ts';
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
