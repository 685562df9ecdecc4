// Evidence routes' logic: one item, its bytes (each read is a ledger event), a journalist's
// upload (streamed into the blob store and described like a capture), and capture-again.
import type { Readable } from 'node:stream';
import { assertMember, notFoundUnlessId, requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import { captureDeps } from '../capture/capture-deps.ts';
import { captureRequest, enqueueAfterCommit } from '../capture/capture-request.ts';
import { checkItem } from '../capture/checks.ts';
import { describe } from '../capture/describe.ts';
import { citationExpectations } from '../claims/claims-store.ts';
import type { AppContext } from '../context.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { writeWithEvents } from '../db/sql-change.ts';
import { writeStatement, writeTransaction } from '../db/unit-of-work.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import { clip } from '../media/json.ts';
import { recaptureSchedule } from '../sources/recapture-schedule.ts';
import { visibleSource } from '../sources/sources.service.ts';
import type { ByteRange } from '../storage/blob-store.ts';
import { evidenceView } from './evidence.view.ts';
import { checkRecord, newEvidence } from './evidence-record.ts';
import { evidenceById, evidenceBySha, insertEvidence } from './evidence-store.ts';

export async function visibleEvidence(prisma: PrismaClient, p: Principal, id: string) {
  notFoundUnlessId(id, 'evidence item');
  const item = await prisma.evidenceItem.findUnique({ where: { id }, include: { source: true } });
  if (!item) throw new AppError('not_found', `No evidence item ${id}.`);
  await assertMember(prisma, p, item.source.investigationId, 'evidence item', id);
  return item;
}

export async function getEvidence(prisma: PrismaClient, p: Principal, id: string) {
  return evidenceView(await visibleEvidence(prisma, p, id));
}

/**
 * Opens an item's bytes (all, or one range) after recording who read them. The event is
 * committed before the first byte leaves: a read that is not in the chain never happened.
 * `item` is what visibleEvidence returned for `p` (the caller has already checked access and
 * set its headers from it; it is not read a second time).
 */
export async function readEvidenceContent(
  ctx: Pick<AppContext, 'pool' | 'blobs' | 'log'>,
  p: Principal,
  item: { id: string; sourceId: string; sha256: string; size: bigint | number },
  range: ByteRange | undefined,
): Promise<{ stream: Readable; length: number }> {
  const id = item.id;
  const size = Number(item.size);
  const stored = await ctx.blobs.size(item.sha256);
  if (stored !== size) {
    ctx.log.error(
      { evidenceId: id, sha256: item.sha256, stored, size },
      'evidence bytes missing from the blob store',
    );
    throw new AppError('gone', `The bytes of evidence item ${id} are not in the blob store.`);
  }
  const length = range ? range.end - range.start + 1 : size;
  await writeStatement(ctx.pool, (tx) =>
    appendEvent(tx, {
      subject: { type: 'source', id: item.sourceId },
      type: 'evidence_read',
      actor: actorOf(p),
      data: {
        evidenceId: id,
        sha256: item.sha256,
        range: range ? `bytes=${range.start}-${range.end}` : null,
        bytes: length,
      },
    }),
  );
  return { stream: ctx.blobs.read(item.sha256, range), length };
}

/**
 * Capture a source again (editor); with `recaptureEverySeconds` (a number, or null to clear
 * it) also set the source's own recapture interval, with its `recapture_scheduled` event
 * first. One statement; the job is enqueued after it commits.
 */
export async function captureAgain(
  ctx: Pick<AppContext, 'prisma' | 'pool' | 'queues'>,
  p: Principal,
  sourceId: string,
  opts: { recaptureEverySeconds?: number | null } = {},
) {
  const source = await visibleSource(ctx.prisma, p, sourceId);
  requireRole(p, 'write', 'capture sources');
  const actor = actorOf(p);
  const schedule =
    opts.recaptureEverySeconds === undefined
      ? { changes: [], events: [] }
      : recaptureSchedule({ sourceId: source.id, everySeconds: opts.recaptureEverySeconds, actor });
  const request = captureRequest({ sourceId: source.id, reason: 'manual', requestedBy: p.id, actor });
  await writeStatement(ctx.pool, async (tx) => {
    await writeWithEvents(
      tx,
      [...schedule.changes, ...request.changes],
      [...schedule.events, ...request.events],
    );
    enqueueAfterCommit(tx, ctx.queues, request.captureId);
  });
  return { captureId: request.captureId };
}

/**
 * A journalist's own copy: the bytes (already streamed into the blob store by the route)
 * become an `upload` item of the source, described and checked like captured content. The
 * same bytes uploaded twice are one item (`created: false`).
 */
export async function addUpload(
  ctx: AppContext,
  p: Principal,
  sourceId: string,
  blob: { sha256: string; size: number; head: Buffer },
  declaredType: string | null,
  filename: string | null,
) {
  const deps = await captureDeps(ctx);
  const existing = await ctx.prisma.evidenceItem.findUnique({
    where: { sourceId_sha256: { sourceId, sha256: blob.sha256 } },
  });
  if (existing) return { item: evidenceView(existing), created: false };
  const described = await describe(deps, { sha256: blob.sha256, head: blob.head, declaredType });
  if (filename) described.analysis.metadata.filename = clip(filename, 255);
  const actor = actorOf(p);
  return writeTransaction(ctx.pool, async (tx) => {
    // Serialize with a concurrent upload of the same bytes (unique (source, sha256)).
    await tx.lock(`upload:${sourceId}:${blob.sha256}`);
    const again = await evidenceBySha(tx, sourceId, blob.sha256);
    if (again) return { item: evidenceView(again), created: false };
    const created = newEvidence({
      ...described,
      kind: 'upload',
      sourceId,
      captureId: null,
      actor,
      sha256: blob.sha256,
      size: blob.size,
      originUrl: null,
      uploadedBy: p.id,
    });
    const { row } = created;
    const outcome = checkItem(
      { ...row, metadata: row.metadata as Record<string, unknown> },
      await citationExpectations(tx, sourceId),
    );
    // Inserted with its checks: the events say what they are, as for a captured item.
    row.checks = outcome.all;
    const checks = checkRecord({ sourceId, evidenceId: row.id, actor, existing: false }, outcome);
    await writeWithEvents(
      tx,
      [insertEvidence(row), ...created.changes],
      [...created.events, ...checks.events],
    );
    // The view as any later read shows it (jsonb's own key order).
    return { item: evidenceView(await evidenceById(tx, row.id)), created: true };
  });
}
