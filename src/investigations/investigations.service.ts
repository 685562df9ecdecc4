// Investigations and membership; each change is a ledger event of the investigation.
import { assertMember, notFoundUnlessId, requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import type { InvestigationView } from './investigation-view.schema.ts';

type Row = { id: string; title: string; description: string | null; createdBy: string; createdAt: Date };
export const investigationView = (i: Row): InvestigationView => ({
  id: i.id,
  title: i.title,
  description: i.description,
  createdBy: i.createdBy,
  createdAt: i.createdAt.toISOString(),
});

export async function createInvestigation(
  prisma: PrismaClient,
  p: Principal,
  input: { title: string; description?: string | undefined },
) {
  requireRole(p, 'write', 'create investigations');
  return prisma.$transaction(async (tx) => {
    const inv = await tx.investigation.create({
      data: { title: input.title, description: input.description ?? null, createdBy: p.id },
    });
    await tx.membership.create({ data: { investigationId: inv.id, userId: p.id } });
    const subject = { type: 'investigation' as const, id: inv.id };
    await appendEvent(tx, {
      subject,
      type: 'investigation_created',
      actor: actorOf(p),
      data: { title: inv.title, description: inv.description },
    });
    await appendEvent(tx, {
      subject,
      type: 'member_added',
      actor: actorOf(p),
      data: { userId: p.id, role: p.role },
    });
    return investigationView(inv);
  });
}

export async function getInvestigation(prisma: PrismaClient, p: Principal, id: string) {
  notFoundUnlessId(id, 'investigation');
  const inv = await prisma.investigation.findUnique({ where: { id } });
  if (!inv) throw new AppError('not_found', `No investigation ${id}.`);
  await assertMember(prisma, p, id, 'investigation', id);
  return inv;
}

/** Investigations the caller may see (all for admins), newest id last, keyset-paginated. */
export async function listInvestigations(prisma: PrismaClient, p: Principal, limit: number, cursor?: string) {
  const rows = await prisma.investigation.findMany({
    where: {
      ...(p.role === 'admin' ? {} : { members: { some: { userId: p.id } } }),
      ...(cursor ? { id: { gt: cursor } } : {}),
    },
    orderBy: { id: 'asc' },
    take: limit + 1,
  });
  const page = rows.slice(0, limit);
  return {
    items: page.map(investigationView),
    nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
  };
}

export async function addMember(prisma: PrismaClient, p: Principal, investigationId: string, userId: string) {
  await getInvestigation(prisma, p, investigationId);
  requireRole(p, 'manage', 'add members');
  const user = await prisma.user.findUnique({ where: { id: userId } }).catch(() => null);
  if (!user)
    throw new AppError('unprocessable', `No user ${userId}.`, [
      { path: 'body.userId', message: 'unknown user' },
    ]);
  return prisma.$transaction(async (tx) => {
    const existing = await tx.membership.findUnique({
      where: { investigationId_userId: { investigationId, userId } },
    });
    if (existing) throw new AppError('conflict', `User ${userId} is already a member.`);
    const m = await tx.membership.create({ data: { investigationId, userId } });
    await appendEvent(tx, {
      subject: { type: 'investigation', id: investigationId },
      type: 'member_added',
      actor: actorOf(p),
      data: { userId, role: user.role },
    });
    return { investigationId, userId, role: user.role, addedAt: m.addedAt.toISOString() };
  });
}
