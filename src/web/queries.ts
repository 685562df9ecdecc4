// Read-only data the pages need that no REST route offers: the claims citing a source,
// identical content elsewhere in the investigation, exports with their investigation's title.
// Each applies the services' access checks (404 for outsiders).
import { assertMember } from '../access/access.ts';
import type { Principal } from '../access/principal.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { exportView, listExports } from '../exports/exports.service.ts';
import { visibleSource } from '../sources/sources.service.ts';

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
