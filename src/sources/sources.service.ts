// Sources as the API shows them, and their chain of custody.
import { assertMember, notFoundUnlessId } from '../access/access.ts';
import type { Principal } from '../access/principal.ts';
import type { Prisma, PrismaClient } from '../db/prisma.ts';
import { evidenceBySource, sourceChecks } from '../evidence/evidence.view.ts';
import { getInvestigation } from '../investigations/investigations.service.ts';
import { custodyPage } from '../ledger/custody-page.ts';
import { AppError } from '../lib/errors.ts';
import type { CaptureView } from './source-view.schema.ts';

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

/** How many of a source's captures its view shows (newest first). */
export const CAPTURES_SHOWN = 10;

interface CaptureRow {
  id: string;
  source_id: string;
  status: CaptureView['status'];
  reason: string;
  attempts: number;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  failure: CaptureView['failure'];
}

/** The latest captures of many sources (capture progress), newest first: one windowed query. */
async function recentCaptures(prisma: PrismaClient, sourceIds: string[]) {
  const rows = sourceIds.length
    ? await prisma.$queryRaw<CaptureRow[]>`
        SELECT id::text, source_id::text, status::text, reason, attempts, requested_at, started_at,
               finished_at, failure
        FROM (SELECT c.*, row_number() OVER (PARTITION BY source_id ORDER BY requested_at DESC, id DESC) AS n
              FROM captures c WHERE source_id = ANY(${sourceIds}::uuid[])) latest
        WHERE n <= ${CAPTURES_SHOWN} ORDER BY requested_at DESC, id DESC`
    : [];
  const bySource = new Map<string, CaptureView[]>(sourceIds.map((id) => [id, []]));
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

/** The API shape of sources, in the order given. */
export async function sourceViews(prisma: PrismaClient, sources: SourceRow[]) {
  const ids = sources.map((s) => s.id);
  const [heads, evidence, captures] = await Promise.all([
    custodyHeads(prisma, ids),
    evidenceBySource(prisma, ids),
    recentCaptures(prisma, ids),
  ]);
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
    captures: captures.get(s.id)!,
    createdAt: s.createdAt.toISOString(),
  }));
}
export type SourceView = Awaited<ReturnType<typeof sourceViews>>[number];

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

/** The sources of an investigation the caller may see, `limit` at a time in id (creation)
 * order after `cursor`. */
export async function listSources(
  prisma: PrismaClient,
  p: Principal,
  investigationId: string,
  limit: number,
  cursor?: string,
) {
  await getInvestigation(prisma, p, investigationId);
  const rows = await prisma.source.findMany({
    where: { investigationId, ...(cursor ? { id: { gt: cursor } } : {}) },
    orderBy: { id: 'asc' },
    take: limit + 1,
  });
  const page = rows.slice(0, limit);
  return {
    items: await sourceViews(prisma, page),
    nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
  };
}

/** The source's evidence items, oldest first (as in its view). */
export async function sourceEvidence(prisma: PrismaClient, p: Principal, id: string) {
  await visibleSource(prisma, p, id);
  return { items: (await evidenceBySource(prisma, [id])).get(id)! };
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
