// Claims and the sources they cite. Rows and their ledger events are written in one
// transaction; a cited URL is normalized and reused within its investigation.
import { assertInvestigationVisible, assertMember, notFoundUnlessId, requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import { enqueueCaptureAfterCommit, requestCapture } from '../capture/capture-request.ts';
import { latestPrimaryItem, recordChecks } from '../capture/capture-store.ts';
import type { Json } from '../capture/checks.ts';
import type { AppContext } from '../context.ts';
import { newId } from '../db/ids.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { appendEvent, writeWithEvent } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import { normalizeSourceUrl, UrlRejectedError } from '../sources/normalize-url.ts';
import { sourceView, sourceViews } from '../sources/sources.service.ts';
import type { ClaimView } from './claim-view.schema.ts';
import type { CitationInput, ClaimInput } from './claims.schema.ts';
import { type ClaimRow, claimInsert, newClaimRow } from './claims-store.ts';

export const claimView = (c: ClaimRow): ClaimView => ({
  id: c.id,
  investigationId: c.investigationId,
  statement: c.statement,
  claimant: { name: c.claimantName, role: c.claimantRole },
  claimedAt: c.claimedAt?.toISOString() ?? null,
  language: c.language,
  tags: c.tags,
  status: c.status,
  createdBy: c.createdBy,
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString(),
});

/**
 * Logs a claim and its claim_created event. `input` may be given as a function, called once
 * the caller is known to be allowed to learn whether it is valid: a route passes its body
 * parser there, so an outsider gets 404 before any 400 about the body (or 403 about its role).
 */
export async function createClaim(
  { pool }: Pick<AppContext, 'pool'>,
  p: Principal,
  investigationId: string,
  input: ClaimInput | (() => ClaimInput),
) {
  notFoundUnlessId(investigationId, 'investigation');
  const visible = () =>
    assertInvestigationVisible(pool, p, investigationId, 'investigation', investigationId);
  let claimInput: ClaimInput;
  try {
    claimInput = typeof input === 'function' ? input() : input;
    requireRole(p, 'write', 'create claims');
  } catch (err) {
    await visible(); // 404 first for outsiders
    throw err;
  }
  // One timestamp for the row and its event: the export projection reads it there.
  const at = new Date();
  const row = newClaimRow({
    id: newId(),
    investigationId,
    statement: claimInput.statement,
    claimantName: claimInput.claimant.name,
    claimantRole: claimInput.claimant.role ?? null,
    claimedAt: claimInput.claimedAt ? new Date(claimInput.claimedAt) : null,
    language: claimInput.language ?? null,
    tags: claimInput.tags ?? [],
    createdBy: p.id,
    at,
  });
  const view = claimView(row);
  // Visibility check, row and claim_created event in one autocommitted statement: all or
  // nothing, one round trip on the busiest write (was: two reads, BEGIN, INSERT, append, COMMIT).
  const event = await writeWithEvent(pool, claimInsert(row, p), {
    subject: { type: 'claim', id: row.id },
    type: 'claim_created',
    actor: actorOf(p),
    data: { investigationId, claim: view },
    at,
  });
  if (!event) throw new AppError('not_found', `No investigation ${investigationId}.`);
  return view;
}

/** The claim if `p` may see it (404 otherwise, also for other investigations' claims). */
export async function visibleClaim(prisma: PrismaClient, p: Principal, id: string) {
  notFoundUnlessId(id, 'claim');
  const claim = await prisma.claim.findUnique({ where: { id } });
  if (!claim) throw new AppError('not_found', `No claim ${id}.`);
  await assertMember(prisma, p, claim.investigationId, 'claim', id);
  return claim;
}

export async function getClaim(prisma: PrismaClient, p: Principal, id: string) {
  const claim = await visibleClaim(prisma, p, id);
  const citations = await prisma.citation.findMany({
    where: { claimId: id },
    include: { source: true },
    orderBy: { id: 'asc' },
  });
  const sources = await sourceViews(
    prisma,
    citations.map((c) => c.source),
  );
  return {
    ...claimView(claim),
    citations: citations.map((c, i) => ({
      id: c.id,
      relation: c.relation,
      expected: c.expected,
      note: c.note,
      createdAt: c.createdAt.toISOString(),
      source: sources[i],
    })),
  };
}

export async function citeSource(
  { prisma, queues, log }: Pick<AppContext, 'prisma' | 'queues' | 'log'>,
  p: Principal,
  claimId: string,
  input: CitationInput,
) {
  const claim = await visibleClaim(prisma, p, claimId);
  requireRole(p, 'write', 'cite sources');
  let normalized: ReturnType<typeof normalizeSourceUrl>;
  try {
    normalized = normalizeSourceUrl(input.url);
  } catch (err) {
    if (err instanceof UrlRejectedError) {
      throw new AppError('validation_failed', err.message, [
        { path: 'body.url', message: `${err.code}: ${err.message}` },
      ]);
    }
    throw err;
  }
  const expected = input.expected ?? {};
  const result = await prisma.$transaction(async (tx) => {
    // One timestamp for the rows and their events: the export projection reads it there.
    const at = new Date();
    // Serialize citations of one URL in one investigation so two requests cannot both create
    // the source (the unique index would turn the loser into an error instead).
    // An X post is one source whatever URL spelling cites it (with or without its handle).
    const postId = normalized.platform?.postId;
    const identity = postId ? `x:${postId}` : normalized.normalizedUrl;
    await tx.$queryRaw`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtextextended(${`source:${claim.investigationId}:${identity}`}, 0))) l`;
    let source = await tx.source.findFirst({
      where: {
        investigationId: claim.investigationId,
        ...(postId
          ? { platform: { path: ['postId'], equals: postId } }
          : { normalizedUrl: normalized.normalizedUrl }),
      },
      orderBy: { createdAt: 'asc' },
    });
    const created = !source;
    source ??= await tx.source.create({
      data: {
        investigationId: claim.investigationId,
        url: normalized.url,
        normalizedUrl: normalized.normalizedUrl,
        platform: normalized.platform ?? undefined,
        createdAt: at,
      },
    });
    const duplicate = await tx.citation.findUnique({
      where: { claimId_sourceId_relation: { claimId, sourceId: source.id, relation: input.relation } },
    });
    if (duplicate)
      throw new AppError('conflict', `The claim already cites this source as ${input.relation}.`);
    const citation = await tx.citation.create({
      data: {
        claimId,
        sourceId: source.id,
        relation: input.relation,
        expected,
        note: input.note ?? null,
        createdAt: at,
      },
    });
    const actor = actorOf(p);
    await appendEvent(tx, {
      subject: { type: 'claim', id: claimId },
      type: 'citation_added',
      actor,
      data: {
        citationId: citation.id,
        sourceId: source.id,
        relation: input.relation,
        expected,
        note: citation.note,
      },
      at,
    });
    await appendEvent(tx, {
      subject: { type: 'source', id: source.id },
      type: 'source_cited',
      actor,
      data: {
        claimId,
        citationId: citation.id,
        url: normalized.url,
        normalizedUrl: normalized.normalizedUrl,
        relation: input.relation,
        expected,
        investigationId: source.investigationId,
        platform: (source.platform ?? null) as Json,
      },
      at,
    });
    // A new source is captured: the request is recorded with the citation, the job is
    // enqueued after the commit (a lost enqueue is repaired by the capture sweep).
    const captureId = created
      ? await requestCapture(tx, { sourceId: source.id, reason: 'cited', requestedBy: p.id, actor })
      : null;
    // A reused source that is already captured has its content checked against what this
    // citation declares, now (a capture in progress will check every citation when it ends).
    if (!created && Object.keys(expected).length > 0) {
      const primary = await latestPrimaryItem(tx, source.id);
      if (primary)
        await recordChecks(tx, { sourceId: source.id, evidenceId: primary, actor, only: expected });
    }
    return { citation, source, created, captureId };
  });
  if (result.captureId) await enqueueCaptureAfterCommit(queues, result.captureId, log);
  return {
    citation: {
      id: result.citation.id,
      claimId,
      relation: result.citation.relation,
      expected: result.citation.expected,
      note: result.citation.note,
      createdAt: result.citation.createdAt.toISOString(),
    },
    source: await sourceView(prisma, result.source),
    created: result.created,
    captureId: result.captureId,
  };
}
