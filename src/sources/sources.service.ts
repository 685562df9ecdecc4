// Sources as the API shows them, and their chain of custody.
import { assertMember, notFoundUnlessId } from '../access/access.ts';
import type { Principal } from '../access/auth.ts';
import type { Prisma, PrismaClient } from '../db/prisma.ts';
import { verifyChain } from '../ledger/chain-verify.ts';
import { readSubjectEvents, toEventView } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';

type SourceRow = Prisma.SourceGetPayload<object>;

/** The custody summary of a subject: its length and head hash. */
async function custodyHead(prisma: PrismaClient, sourceId: string) {
  const rows = await prisma.$queryRaw<{ seq: number; hash: string }[]>`
    SELECT seq, encode(hash, 'hex') AS hash FROM ledger_events
    WHERE subject_type = 'source' AND subject_id = ${sourceId} ORDER BY seq DESC LIMIT 1`;
  return { length: rows[0]?.seq ?? 0, headHash: rows[0]?.hash ?? null };
}

export async function sourceView(prisma: PrismaClient, s: SourceRow) {
  return {
    id: s.id,
    investigationId: s.investigationId,
    url: s.url,
    normalizedUrl: s.normalizedUrl,
    platform: s.platform ?? null,
    status: s.status,
    failure: s.failure ?? null,
    // Evidence items and their checks are produced by capture workers (capture issue).
    evidence: [],
    checks: [],
    custody: await custodyHead(prisma, s.id),
    createdAt: s.createdAt.toISOString(),
  };
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
  const events = (await readSubjectEvents(prisma, { type: 'source', id })).filter(
    (e) => e.seq > (cursor ?? 0),
  );
  const page = events.slice(0, limit);
  return {
    items: page.map(toEventView),
    nextCursor: events.length > limit ? String(page.at(-1)?.seq) : null,
  };
}

export async function verifySourceCustody(prisma: PrismaClient, p: Principal, id: string) {
  await visibleSource(prisma, p, id);
  return verifyChain({ type: 'source', id }, await readSubjectEvents(prisma, { type: 'source', id }));
}
