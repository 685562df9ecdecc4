// What an export holds: the ledger subjects whose chains go in — the claims in scope, the
// sources they cite, the investigation — each fixed at its length when the export starts, so
// events appended meanwhile do not half-appear.

import type { PrismaClient } from '../db/prisma.ts';
import type { Subject } from '../ledger/event-types.ts';

export interface ExportScope {
  claimId?: string;
  investigationId: string;
}

export interface SubjectHead extends Subject {
  length: number;
  headHash: string | null;
}

/**
 * The chains an export holds (claims in scope, the sources they cite or the investigation's,
 * each at its current length) and, for progress only, the size of the distinct content. What
 * export.json states about them is folded from the chains themselves (ledger-view.ts).
 */
export async function gatherScope(prisma: PrismaClient, scope: ExportScope) {
  const claimRows = await prisma.claim.findMany({
    where: scope.claimId ? { id: scope.claimId } : { investigationId: scope.investigationId },
    orderBy: { id: 'asc' },
    select: { id: true },
  });
  const citations = await prisma.citation.findMany({
    where: { claimId: { in: claimRows.map((c) => c.id) } },
    select: { sourceId: true },
  });
  const sourceRows = await prisma.source.findMany({
    where: scope.claimId
      ? { id: { in: [...new Set(citations.map((c) => c.sourceId))] } }
      : { investigationId: scope.investigationId },
    orderBy: { id: 'asc' },
    select: { id: true },
  });
  const content = await prisma.evidenceItem.findMany({
    where: { sourceId: { in: sourceRows.map((s) => s.id) } },
    distinct: ['sha256'],
    select: { size: true },
  });
  const subjects: Subject[] = [
    ...(scope.claimId ? [] : [{ type: 'investigation' as const, id: scope.investigationId }]),
    ...claimRows.map((c) => ({ type: 'claim' as const, id: c.id })),
    ...sourceRows.map((s) => ({ type: 'source' as const, id: s.id })),
  ];
  return {
    subjects: await subjectHeads(prisma, subjects),
    evidenceCount: content.length,
    contentBytes: content.reduce((n, e) => n + Number(e.size), 0),
  };
}
export type GatheredScope = Awaited<ReturnType<typeof gatherScope>>;

async function subjectHeads(prisma: PrismaClient, subjects: Subject[]): Promise<SubjectHead[]> {
  const rows = await prisma.$queryRaw<
    { subject_type: string; subject_id: string; seq: number; hash: string }[]
  >`
    SELECT DISTINCT ON (subject_type, subject_id) subject_type, subject_id, seq, encode(hash, 'hex') AS hash
    FROM ledger_events
    WHERE (subject_type, subject_id) IN (SELECT * FROM unnest(${subjects.map((s) => s.type)}::text[], ${subjects.map((s) => s.id)}::text[]))
    ORDER BY subject_type, subject_id, seq DESC`;
  const byKey = new Map(rows.map((r) => [`${r.subject_type}/${r.subject_id}`, r]));
  return subjects
    .map((s) => {
      const r = byKey.get(`${s.type}/${s.id}`);
      return { ...s, length: r?.seq ?? 0, headHash: r?.hash ?? null };
    })
    .filter((s) => s.length > 0);
}
