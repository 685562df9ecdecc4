// Who works on an investigation: list, add and remove members. Each change is a ledger event
// of the investigation, committed with the membership row (src/db/unit-of-work.ts).
import { validate as isUuid } from 'uuid';
import { requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import type { AppContext } from '../context.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import { findUser } from '../users/users-store.ts';
import type { MemberView } from './investigation-view.schema.ts';
import { getInvestigation } from './investigations.service.ts';
import { deleteMembership, insertMembership } from './investigations-store.ts';

/** The members of an investigation the caller may see, oldest first, with names and roles. */
export async function listMembers(
  { prisma, pool }: Pick<AppContext, 'prisma' | 'pool'>,
  p: Principal,
  investigationId: string,
): Promise<{ items: MemberView[] }> {
  await getInvestigation(prisma, p, investigationId);
  // One join on the pool: memberships carry no relation to users in the Prisma schema.
  const { rows } = await pool.query<{
    user_id: string;
    name: string;
    role: MemberView['role'];
    added_at: Date;
  }>(
    `SELECT m.user_id, u.name, u.role::text AS role, m.added_at
     FROM memberships m JOIN users u ON u.id = m.user_id
     WHERE m.investigation_id = $1 ORDER BY m.added_at, m.user_id`,
    [investigationId],
  );
  return {
    items: rows.map((r) => ({
      investigationId,
      userId: r.user_id,
      name: r.name,
      role: r.role,
      addedAt: r.added_at.toISOString(),
    })),
  };
}

export async function addMember(
  { prisma, pool }: Pick<AppContext, 'prisma' | 'pool'>,
  p: Principal,
  investigationId: string,
  userId: string,
) {
  await getInvestigation(prisma, p, investigationId);
  requireRole(p, 'manage', 'add members');
  const unknownUser = () =>
    new AppError('unprocessable', `No user ${userId}.`, [{ path: 'body.userId', message: 'unknown user' }]);
  if (!isUuid(userId)) throw unknownUser(); // not one of ours, and not castable to uuid
  return writeTransaction(pool, async (tx) => {
    const user = await findUser(tx, userId);
    if (!user) throw unknownUser();
    const at = new Date();
    const m = await insertMembership(tx, { investigationId, userId, at });
    if (!m) throw new AppError('conflict', `User ${userId} is already a member.`);
    await appendEvent(tx, {
      subject: { type: 'investigation', id: investigationId },
      type: 'member_added',
      actor: actorOf(p),
      data: { userId, role: user.role },
      at,
    });
    return { investigationId, userId, role: user.role, addedAt: m.addedAt.toISOString() };
  });
}

/**
 * Removes a member (admin, editor member): the row goes, a `member_removed` event records who
 * removed whom. What the member did stays in the ledger; they just stop seeing the
 * investigation. 404 when the user is not a member (or no user at all).
 */
export async function removeMember(
  { prisma, pool }: Pick<AppContext, 'prisma' | 'pool'>,
  p: Principal,
  investigationId: string,
  userId: string,
): Promise<{ investigationId: string; userId: string; removedAt: string }> {
  await getInvestigation(prisma, p, investigationId);
  requireRole(p, 'manage', 'remove members');
  const notMember = () => new AppError('not_found', `User ${userId} is not a member of ${investigationId}.`);
  if (!isUuid(userId)) throw notMember();
  return writeTransaction(pool, async (tx) => {
    const at = new Date();
    // The DELETE decides: of two racing removals one finds the row, the other a 404.
    const removed = await deleteMembership(tx, { investigationId, userId });
    if (!removed) throw notMember();
    await appendEvent(tx, {
      subject: { type: 'investigation', id: investigationId },
      type: 'member_removed',
      actor: actorOf(p),
      data: { userId },
      at,
    });
    return { investigationId, userId, removedAt: at.toISOString() };
  });
}
