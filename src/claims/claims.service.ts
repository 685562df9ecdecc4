// Claims and the sources they cite. Rows and their ledger events are written in one
// transaction; a cited URL is normalized and reused within its investigation.
import { assertInvestigationVisible, assertMember, notFoundUnlessId, requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import { captureRequest, enqueueAfterCommit } from '../capture/capture-request.ts';
import { primaryStep } from '../capture/capture-steps.ts';
import { progressOf } from '../capture/capture-store.ts';
import { checkItem, type Json } from '../capture/checks.ts';
import type { AppContext } from '../context.ts';
import { newId } from '../db/ids.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { type SqlChange, writeWithEvents } from '../db/sql-change.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { checkRecord } from '../evidence/evidence-record.ts';
import { evidenceById } from '../evidence/evidence-store.ts';
import { custodyPage } from '../ledger/custody-page.ts';
import type { EventType } from '../ledger/event-types.ts';
import { type AppendInput, writeWithEvent } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import { normalizeSourceUrl, UrlRejectedError } from '../sources/normalize-url.ts';
import { sourceView, sourceViews } from '../sources/sources.service.ts';
import { citedSource, insertSource, type SourceRow } from '../sources/sources-store.ts';
import type { ClaimView } from './claim-view.schema.ts';
import type { CitationInput, ClaimInput } from './claims.schema.ts';
import { type ClaimRow, claimedAtColumns, claimInsert, insertCitation, newClaimRow } from './claims-store.ts';

export const claimView = (c: ClaimRow): ClaimView => ({
  id: c.id,
  investigationId: c.investigationId,
  statement: c.statement,
  // A time zone only when stated: claims (and their events) from before have none.
  claimant: {
    name: c.claimantName,
    role: c.claimantRole,
    ...(c.claimantTimeZone ? { timeZone: c.claimantTimeZone } : {}),
  },
  // As given: a date stays a date (its UTC midnight is stored), a date-time is shown in UTC.
  claimedAt:
    c.claimedAt === null
      ? null
      : c.claimedAtPrecision === 'date'
        ? c.claimedAt.toISOString().slice(0, 10)
        : c.claimedAt.toISOString(),
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
    claimantTimeZone: claimInput.claimant.timeZone ?? null,
    ...claimedAtColumns(claimInput.claimedAt ?? null),
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

/** The claim's own chain (its edits and citations) in seq order, `limit` at a time after seq
 * `cursor`: the same pages as a source's custody. */
export async function claimCustody(
  prisma: PrismaClient,
  p: Principal,
  id: string,
  limit: number,
  cursor?: number,
) {
  await visibleClaim(prisma, p, id);
  return custodyPage(prisma, { type: 'claim', id }, limit, cursor);
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
  { prisma, pool, queues }: Pick<AppContext, 'prisma' | 'pool' | 'queues'>,
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
  const actor = actorOf(p);
  const result = await writeTransaction(pool, async (tx) => {
    // One timestamp for the rows and their events: the export projection reads it there.
    const at = new Date();
    // Serialize citations of one URL in one investigation so two requests cannot both create
    // the source (the unique index would turn the loser into an error instead).
    // An X post is one source whatever URL spelling cites it (with or without its handle).
    const postId = normalized.platform?.postId;
    const identity = postId ? `x:${postId}` : normalized.normalizedUrl;
    await tx.lock(`source:${claim.investigationId}:${identity}`);
    const found = await citedSource(tx, {
      investigationId: claim.investigationId,
      claimId,
      relation: input.relation,
      postId,
      normalizedUrl: normalized.normalizedUrl,
    });
    if (found?.duplicate)
      throw new AppError('conflict', `The claim already cites this source as ${input.relation}.`);
    const changes: SqlChange[] = [];
    let source: SourceRow;
    if (found) {
      const { duplicate: _d, lastProgress: _p, ...row } = found;
      source = row;
    } else {
      source = {
        id: newId(),
        investigationId: claim.investigationId,
        url: normalized.url,
        normalizedUrl: normalized.normalizedUrl,
        // As stored: what jsonb keeps of it.
        platform: normalized.platform ? JSON.parse(JSON.stringify(normalized.platform)) : null,
        status: 'pending',
        failure: null,
        recaptureEverySeconds: null,
        createdAt: at,
      };
      changes.push(insertSource(source));
    }
    const citation = {
      id: newId(),
      claimId,
      sourceId: source.id,
      relation: input.relation,
      expected,
      note: input.note ?? null,
      createdAt: at,
    };
    changes.push(insertCitation(citation));
    const events: AppendInput<EventType>[] = [
      {
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
      },
      {
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
      },
    ];
    // A new source is captured: the request is recorded with the citation, the job is
    // enqueued after the commit (a lost enqueue is repaired by the capture sweep).
    let captureId: string | null = null;
    if (!found) {
      const request = captureRequest({ sourceId: source.id, reason: 'cited', requestedBy: p.id, actor });
      captureId = request.captureId;
      changes.push(...request.changes);
      events.push(...request.events);
      enqueueAfterCommit(tx, queues, captureId);
    }
    // A reused source that is already captured has its content checked against what this
    // citation declares, now (a capture in progress will check every citation when it ends).
    const primary = found?.lastProgress && primaryStep(progressOf(found.lastProgress).steps);
    if (primary && Object.keys(expected).length > 0) {
      const item = await evidenceById(tx, primary.evidenceId);
      const record = checkRecord(
        { sourceId: source.id, evidenceId: item.id, actor, existing: true },
        checkItem(item, [expected], true),
      );
      changes.push(...record.changes);
      events.push(...record.events);
    }
    await writeWithEvents(tx, changes, events);
    return { citation, source, created: !found, captureId };
  });
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
