// Investigations' and memberships' SQL on the write path (src/db/unit-of-work.ts): each
// function one parameterized statement in the caller's transaction, rows shaped like Prisma's.
// Investigations are only ever added; a membership may be removed (member_removed).
import { newId } from '../db/ids.ts';
import type { Prisma } from '../db/prisma.ts';
import type { WriteTx } from '../db/unit-of-work.ts';

export type InvestigationRow = Prisma.InvestigationGetPayload<object>;

export function insertInvestigation(
  tx: WriteTx,
  i: { title: string; description: string | null; createdBy: string; at: Date },
): Promise<InvestigationRow> {
  return tx.one<InvestigationRow>(
    `INSERT INTO investigations (id, title, description, created_by, created_at)
     VALUES ($1, $2, $3, $4, $5)
     RETURNING id, title, description, created_by AS "createdBy", created_at AS "createdAt"`,
    [newId(), i.title, i.description, i.createdBy, i.at],
  );
}

/** Adds the user to the investigation; undefined when they already are a member (the
 * primary key decides, so two racing requests add one membership). */
export function insertMembership(
  tx: WriteTx,
  m: { investigationId: string; userId: string; at: Date },
): Promise<{ addedAt: Date } | undefined> {
  return tx.maybe<{ addedAt: Date }>(
    `INSERT INTO memberships (investigation_id, user_id, added_at) VALUES ($1, $2, $3)
     ON CONFLICT (investigation_id, user_id) DO NOTHING
     RETURNING added_at AS "addedAt"`,
    [m.investigationId, m.userId, m.at],
  );
}

/** Removes the membership; false when there was none. */
export async function deleteMembership(
  tx: WriteTx,
  m: { investigationId: string; userId: string },
): Promise<boolean> {
  return (
    (await tx.exec('DELETE FROM memberships WHERE investigation_id = $1 AND user_id = $2', [
      m.investigationId,
      m.userId,
    ])) === 1
  );
}
