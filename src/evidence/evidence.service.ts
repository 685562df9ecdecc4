// Evidence routes' logic: one item, its bytes (each read is a ledger event), a journalist's
// upload (streamed into the blob store and described like a capture), and capture-again.
import type { Readable } from 'node:stream';
import { assertMember, notFoundUnlessId, requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import { captureDeps } from '../capture/capture-deps.ts';
import { enqueueCaptureAfterCommit, requestCapture } from '../capture/capture-request.ts';
import { createEvidence, recordChecks } from '../capture/capture-store.ts';
import { describe } from '../capture/describe.ts';
import type { AppContext } from '../context.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import { clip } from '../media/json.ts';
import { visibleSource } from '../sources/sources.service.ts';
import type { ByteRange } from '../storage/blob-store.ts';
import { evidenceView } from './evidence.view.ts';

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
 */
export async function readEvidenceContent(
  ctx: AppContext,
  p: Principal,
  id: string,
  range: ByteRange | undefined,
): Promise<{ item: ReturnType<typeof evidenceView>; stream: Readable; length: number }> {
  const item = await visibleEvidence(ctx.prisma, p, id);
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
  await ctx.prisma.$transaction((tx) =>
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
  return { item: evidenceView(item), stream: ctx.blobs.read(item.sha256, range), length };
}

/** Capture a source again (editor). */
export async function captureAgain(ctx: AppContext, p: Principal, sourceId: string) {
  const source = await visibleSource(ctx.prisma, p, sourceId);
  requireRole(p, 'write', 'capture sources');
  const captureId = await ctx.prisma.$transaction((tx) =>
    requestCapture(tx, { sourceId: source.id, reason: 'manual', requestedBy: p.id, actor: actorOf(p) }),
  );
  await enqueueCaptureAfterCommit(ctx.queues, captureId, ctx.log);
  return { captureId };
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
  return ctx.prisma.$transaction(async (tx) => {
    // Serialize with a concurrent upload of the same bytes (unique (source, sha256)).
    await tx.$queryRaw`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtextextended(${`upload:${sourceId}:${blob.sha256}`}, 0))) l`;
    const again = await tx.evidenceItem.findUnique({
      where: { sourceId_sha256: { sourceId, sha256: blob.sha256 } },
    });
    if (again) return { item: evidenceView(again), created: false };
    const created = await createEvidence(tx, {
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
    await recordChecks(tx, { sourceId, evidenceId: created.id, actor });
    const item = await tx.evidenceItem.findUniqueOrThrow({ where: { id: created.id } });
    return { item: evidenceView(item), created: true };
  });
}
