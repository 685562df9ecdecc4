// Investigations and membership; each change is a ledger event of the investigation.

import { assertMember, notFoundUnlessId, requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import type { AppContext } from '../context.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { appendEvents } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import type { InvestigationView } from './investigation-view.schema.ts';
import { insertInvestigation, insertMembership } from './investigations-store.ts';

type Row = { id: string; title: string; description: string | null; createdBy: string; createdAt: Date };
export const investigationView = (i: Row): InvestigationView => ({
  id: i.id,
  title: i.title,
  description: i.description,
  createdBy: i.createdBy,
  createdAt: i.createdAt.toISOString(),
});

export async function createInvestigation(
  { pool }: Pick<AppContext, 'pool'>,
  p: Principal,
  input: { title: string; description?: string | undefined },
) {
  requireRole(p, 'write', 'create investigations');
  return writeTransaction(pool, async (tx) => {
    // One timestamp for the rows and their events.
    const at = new Date();
    const inv = await insertInvestigation(tx, {
      title: input.title,
      description: input.description ?? null,
      createdBy: p.id,
      at,
    });
    await insertMembership(tx, { investigationId: inv.id, userId: p.id, at });
    const subject = { type: 'investigation' as const, id: inv.id };
    await appendEvents(tx, [
      {
        subject,
        type: 'investigation_created',
        actor: actorOf(p),
        data: { title: inv.title, description: inv.description },
        at,
      },
      { subject, type: 'member_added', actor: actorOf(p), data: { userId: p.id, role: p.role }, at },
    ]);
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
