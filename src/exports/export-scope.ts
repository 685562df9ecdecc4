// What an export holds: the claims in scope with their citations, the sources they cite, the
// evidence of those sources, and the ledger subjects whose chains go in (each fixed at its
// length when the export starts, so events appended meanwhile do not half-appear).

import { claimView } from '../claims/claims.service.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { evidenceView } from '../evidence/evidence.view.ts';
import type { Subject } from '../ledger/event-types.ts';
import { sourceViews } from '../sources/sources.service.ts';

export interface ExportScope {
  claimId?: string;
  investigationId: string;
}

export interface SubjectHead extends Subject {
  length: number;
  headHash: string | null;
}

export async function gatherScope(prisma: PrismaClient, scope: ExportScope) {
  const claimRows = await prisma.claim.findMany({
    where: scope.claimId ? { id: scope.claimId } : { investigationId: scope.investigationId },
    orderBy: { id: 'asc' },
  });
  const citations = await prisma.citation.findMany({
    where: { claimId: { in: claimRows.map((c) => c.id) } },
    orderBy: { id: 'asc' },
  });
  const sourceRows = await prisma.source.findMany({
    where: scope.claimId
      ? { id: { in: [...new Set(citations.map((c) => c.sourceId))] } }
      : { investigationId: scope.investigationId },
    orderBy: { id: 'asc' },
  });
  const evidenceRows = await prisma.evidenceItem.findMany({
    where: { sourceId: { in: sourceRows.map((s) => s.id) } },
    orderBy: [{ sourceId: 'asc' }, { capturedAt: 'asc' }, { id: 'asc' }],
  });
  const sources = (await sourceViews(prisma, sourceRows)).map(({ evidence: _e, ...s }) => s);
  const claims = claimRows.map((c) => ({
    ...claimView(c),
    citations: citations
      .filter((x) => x.claimId === c.id)
      .map((x) => ({
        id: x.id,
        sourceId: x.sourceId,
        relation: x.relation,
        expected: x.expected,
        note: x.note,
        createdAt: x.createdAt.toISOString(),
      })),
  }));
  const subjects: Subject[] = [
    ...(scope.claimId ? [] : [{ type: 'investigation' as const, id: scope.investigationId }]),
    ...claimRows.map((c) => ({ type: 'claim' as const, id: c.id })),
    ...sourceRows.map((s) => ({ type: 'source' as const, id: s.id })),
  ];
  return {
    claims,
    sources,
    evidence: evidenceRows.map(evidenceView),
    subjects: await subjectHeads(prisma, subjects),
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
