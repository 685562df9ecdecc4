// Read-only data the pages need that no service offers yet: user names for ledger actors,
// capture progress, identical content cited elsewhere, exports with their investigation's title. Each applies the services' access checks (404 for outsiders). Issue 13 asks for
// these as REST routes too (GET members, GET exports, captures on sources, actorName); when
// those land, the pages should call them instead of this file.
import { assertMember } from '../access/access.ts';
import type { Principal } from '../access/principal.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { exportView, listExports } from '../exports/exports.service.ts';
import { getInvestigation } from '../investigations/investigations.service.ts';
import { visibleSource } from '../sources/sources.service.ts';

/** The sources of an investigation the caller may see, oldest first, with their item counts. */
export async function listSources(prisma: PrismaClient, p: Principal, investigationId: string) {
  await getInvestigation(prisma, p, investigationId);
  const rows = await prisma.source.findMany({
    where: { investigationId },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: {
      id: true,
      normalizedUrl: true,
      status: true,
      _count: { select: { evidence: true, citations: true } },
    },
    take: 500,
  });
  return rows.map((r) => ({
    id: r.id,
    normalizedUrl: r.normalizedUrl,
    status: r.status,
    items: r._count.evidence,
    citations: r._count.citations,
  }));
}

/** The claims citing a source (for the way back from its page), oldest citation first. */
export async function claimsCitingSource(prisma: PrismaClient, p: Principal, sourceId: string) {
  await visibleSource(prisma, p, sourceId);
  const citations = await prisma.citation.findMany({
    where: { sourceId },
    orderBy: { createdAt: 'asc' },
    select: { claim: { select: { id: true, statement: true } } },
  });
  return [...new Map(citations.map((c) => [c.claim.id, c.claim])).values()];
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
/** The caller's exports (listExports: every export for admins) with their investigation's title. */
export async function listMyExports(prisma: PrismaClient, p: Principal, limit = 50) {
  const { rows } = await listExports(prisma, p, limit);
  const titles = new Map(
    (
      await prisma.investigation.findMany({
        where: { id: { in: [...new Set(rows.map((e) => e.investigationId))] } },
        select: { id: true, title: true },
      })
    ).map((i) => [i.id, i.title]),
  );
  return rows.map((e) => ({ ...exportView(e), investigationTitle: titles.get(e.investigationId) ?? '' }));
}

export interface CaptureProgress {
  id: string;
  status: string;
  reason: string;
  attempts: number;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  failure: unknown;
}

/** The last few captures of each source (newest first): capture progress for the pages. The
 * caller has already been shown these sources (their investigation is visible to it). */
export async function recentCaptures(prisma: PrismaClient, sourceIds: string[], perSource = 5) {
  const rows = sourceIds.length
    ? await prisma.$queryRaw<
        {
          id: string;
          source_id: string;
          status: string;
          reason: string;
          attempts: number;
          requested_at: Date;
          started_at: Date | null;
          finished_at: Date | null;
          failure: unknown;
        }[]
      >`SELECT id::text, source_id::text, status::text, reason, attempts, requested_at, started_at, finished_at, failure
        FROM (SELECT c.*, row_number() OVER (PARTITION BY source_id ORDER BY requested_at DESC, id DESC) AS n
              FROM captures c WHERE source_id = ANY(${sourceIds}::uuid[])) latest
        WHERE n <= ${perSource} ORDER BY requested_at DESC, id DESC`
    : [];
  const bySource = new Map<string, CaptureProgress[]>(sourceIds.map((id) => [id, []]));
  for (const c of rows)
    bySource.get(c.source_id)?.push({
      id: c.id,
      status: c.status,
      reason: c.reason,
      attempts: c.attempts,
      requestedAt: c.requested_at.toISOString(),
      startedAt: c.started_at?.toISOString() ?? null,
      finishedAt: c.finished_at?.toISOString() ?? null,
      failure: c.failure ?? null,
    });
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
