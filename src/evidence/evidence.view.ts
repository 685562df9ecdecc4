// Evidence items as the API shows them (API.md "Shapes": evidence item, check).
import type { Prisma, PrismaClient } from '../db/prisma.ts';

export type EvidenceRow = Prisma.EvidenceItemGetPayload<object>;

export const evidenceView = (e: EvidenceRow) => ({
  id: e.id,
  sourceId: e.sourceId,
  captureId: e.captureId,
  kind: e.kind,
  mediaType: e.mediaType,
  declaredType: e.declaredType,
  size: Number(e.size),
  sha256: e.sha256,
  metadata: e.metadata,
  checks: e.checks,
  capturedAt: e.capturedAt.toISOString(),
  originUrl: e.originUrl,
});
export type EvidenceView = ReturnType<typeof evidenceView>;

/** Evidence of many sources in one query, oldest first per source. */
export async function evidenceBySource(prisma: PrismaClient, sourceIds: string[]) {
  const rows = sourceIds.length
    ? await prisma.evidenceItem.findMany({
        where: { sourceId: { in: sourceIds } },
        orderBy: [{ capturedAt: 'asc' }, { id: 'asc' }],
      })
    : [];
  const bySource = new Map<string, EvidenceView[]>(sourceIds.map((id) => [id, []]));
  for (const r of rows) bySource.get(r.sourceId)?.push(evidenceView(r));
  return bySource;
}

/** A source's checks: those of its most recently checked item. */
export function sourceChecks(items: readonly EvidenceView[]) {
  for (let i = items.length - 1; i >= 0; i--) {
    const checks = items[i]!.checks;
    if (Array.isArray(checks) && checks.length > 0) return checks;
  }
  return [];
}
