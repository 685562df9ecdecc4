// Sources as the API shows them, and their chain of custody.
import { assertMember, notFoundUnlessId } from '../access/access.ts';
import type { Principal } from '../access/principal.ts';
import type { Prisma, PrismaClient } from '../db/prisma.ts';
import { evidenceBySource, sourceChecks } from '../evidence/evidence.view.ts';
import { custodyPage } from '../ledger/custody-page.ts';
import { AppError } from '../lib/errors.ts';

type SourceRow = Prisma.SourceGetPayload<object>;

/** Custody summaries (length, head hash) of many sources in one query. */
async function custodyHeads(prisma: PrismaClient, sourceIds: string[]) {
  const rows = await prisma.$queryRaw<{ subject_id: string; seq: number; hash: string }[]>`
    SELECT DISTINCT ON (subject_id) subject_id, seq, encode(hash, 'hex') AS hash FROM ledger_events
    WHERE subject_type = 'source' AND subject_id = ANY(${sourceIds}) ORDER BY subject_id, seq DESC`;
  const bySource = new Map(
    rows.map((r) => [r.subject_id, { length: r.seq, headHash: r.hash as string | null }]),
  );
  return sourceIds.map((id) => bySource.get(id) ?? { length: 0, headHash: null });
}

/** The API shape of sources, in the order given. */
export async function sourceViews(prisma: PrismaClient, sources: SourceRow[]) {
  const ids = sources.map((s) => s.id);
  const [heads, evidence] = await Promise.all([custodyHeads(prisma, ids), evidenceBySource(prisma, ids)]);
  return sources.map((s, i) => ({
    id: s.id,
    investigationId: s.investigationId,
    url: s.url,
    normalizedUrl: s.normalizedUrl,
    platform: s.platform ?? null,
    status: s.status,
    failure: s.failure ?? null,
    evidence: evidence.get(s.id)!,
    checks: sourceChecks(evidence.get(s.id)!),
    recaptureEverySeconds: s.recaptureEverySeconds,
    custody: heads[i]!,
    createdAt: s.createdAt.toISOString(),
  }));
}

export async function sourceView(prisma: PrismaClient, s: SourceRow) {
  const [view] = await sourceViews(prisma, [s]);
  return view!;
}

export async function visibleSource(prisma: PrismaClient, p: Principal, id: string) {
  notFoundUnlessId(id, 'source');
  const source = await prisma.source.findUnique({ where: { id } });
  if (!source) throw new AppError('not_found', `No source ${id}.`);
  await assertMember(prisma, p, source.investigationId, 'source', id);
  return source;
}

/** The source's ledger events in seq order, `limit` at a time after seq `cursor`. */
export async function sourceCustody(
  prisma: PrismaClient,
  p: Principal,
  id: string,
  limit: number,
  cursor?: number,
) {
  await visibleSource(prisma, p, id);
  return custodyPage(prisma, { type: 'source', id }, limit, cursor);
}
