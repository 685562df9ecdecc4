// Read-only data the pages need that no service offers yet: an investigation's members, user
// names for ledger actors, the caller's exports, capture progress, identical content cited
// elsewhere. Each applies the services' access checks (404 for outsiders). Issue 13 asks for
// these as REST routes too (GET members, GET exports, captures on sources, actorName); when
// those land, the pages should call them instead of this file.
import { assertMember } from '../access/access.ts';
import type { Principal } from '../access/principal.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { exportView } from '../exports/exports.service.ts';
import { getInvestigation } from '../investigations/investigations.service.ts';

/** The members of an investigation the caller may see, oldest first. */
export async function listMembers(prisma: PrismaClient, p: Principal, investigationId: string) {
  await getInvestigation(prisma, p, investigationId);
  const members = await prisma.membership.findMany({
    where: { investigationId },
    orderBy: [{ addedAt: 'asc' }, { userId: 'asc' }],
  });
  const users = await prisma.user.findMany({ where: { id: { in: members.map((m) => m.userId) } } });
  const byId = new Map(users.map((u) => [u.id, u]));
  return members.map((m) => ({
    userId: m.userId,
    name: byId.get(m.userId)?.name ?? 'unknown user',
    role: byId.get(m.userId)?.role ?? 'viewer',
    addedAt: m.addedAt.toISOString(),
  }));
}

/** Names of the users among ledger actors (`user:<id>`), for events the caller already sees. */
export async function actorNames(prisma: PrismaClient, actors: Iterable<string>) {
  const ids = [...new Set([...actors].filter((a) => a.startsWith('user:')).map((a) => a.slice(5)))];
  const users = ids.length
    ? await prisma.user.findMany({ where: { id: { in: ids } }, select: { id: true, name: true } })
    : [];
  return new Map(users.map((u) => [u.id, u.name]));
}

/** The caller's exports (an admin's: everyone's), newest first, with what they cover. */
export async function listMyExports(prisma: PrismaClient, p: Principal, limit = 50) {
  const rows = await prisma.export.findMany({
    where: p.role === 'admin' ? {} : { requestedBy: p.id },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit,
    include: { investigation: { select: { title: true } } },
  });
  return rows.map((r) => ({ ...exportView(r), investigationTitle: r.investigation.title }));
}

/** The last few captures of each source (newest first): capture progress for the pages. The
 * caller has already been shown these sources (their investigation is visible to it). */
export async function recentCaptures(prisma: PrismaClient, sourceIds: string[], perSource = 5) {
  const rows = sourceIds.length
    ? await prisma.capture.findMany({
        where: { sourceId: { in: sourceIds } },
        orderBy: [{ requestedAt: 'desc' }, { id: 'desc' }],
        take: perSource * sourceIds.length * 4,
      })
    : [];
  const bySource = new Map<string, typeof shaped>(sourceIds.map((id) => [id, []]));
  const shaped: {
    id: string;
    status: string;
    reason: string;
    attempts: number;
    requestedAt: string;
    startedAt: string | null;
    finishedAt: string | null;
    failure: unknown;
  }[] = [];
  for (const c of rows) {
    const list = bySource.get(c.sourceId);
    if (!list || list.length >= perSource) continue;
    list.push({
      id: c.id,
      status: c.status,
      reason: c.reason,
      attempts: c.attempts,
      requestedAt: c.requestedAt.toISOString(),
      startedAt: c.startedAt?.toISOString() ?? null,
      finishedAt: c.finishedAt?.toISOString() ?? null,
      failure: c.failure ?? null,
    });
  }
  return bySource;
}

/** For each sha256, the other sources of the investigation holding the same bytes. */
export async function sameContentElsewhere(
  prisma: PrismaClient,
  p: Principal,
  investigationId: string,
  items: readonly { sourceId: string; sha256: string }[],
) {
  await assertMember(prisma, p, investigationId, 'investigation', investigationId);
  const hashes = [...new Set(items.map((i) => i.sha256))];
  const rows = hashes.length
    ? await prisma.evidenceItem.findMany({
        where: { sha256: { in: hashes }, source: { investigationId } },
        select: { id: true, sha256: true, sourceId: true, source: { select: { normalizedUrl: true } } },
        orderBy: { id: 'asc' },
      })
    : [];
  return (sourceId: string, sha256: string) =>
    rows
      .filter((r) => r.sha256 === sha256 && r.sourceId !== sourceId)
      .map((r) => ({ evidenceId: r.id, sourceId: r.sourceId, url: r.source.normalizedUrl }));
}
